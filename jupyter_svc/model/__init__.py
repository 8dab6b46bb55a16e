"""The service spec and what it is made of: units, placeholders, status, errors. Imports nothing above."""
