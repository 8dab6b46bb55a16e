"""The Jupyter server extension: the ExtensionApp, the REST API and its OpenAPI document."""
