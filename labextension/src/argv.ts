/**
 * The command field: one line of text, split into the argv the service runs the way Python's
 * `shlex.split` does (POSIX rules: quotes, backslashes; no variables, globs or operators, since
 * no shell runs it). A strict function rather than a shell parser: what it cannot read is an
 * error the form shows, never a guess. tests/test_argv_fixture.py holds the cases to shlex.
 */

export class CommandSyntaxError extends Error {
  name = 'CommandSyntaxError';
}

const WHITESPACE = new Set([' ', '\t', '\r', '\n']);

/** `text` split as `shlex.split(text)` would; CommandSyntaxError for an open quote or a lone `\`. */
export function splitCommand(text: string): string[] {
  const argv: string[] = [];
  let token: string | null = null; // null: between words ('' is an empty quoted word)
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (WHITESPACE.has(c)) {
      if (token !== null) {
        argv.push(token);
        token = null;
      }
      i += 1;
    } else if (c === '\\') {
      if (i + 1 >= text.length) {
        throw new CommandSyntaxError('ends with a lone backslash');
      }
      token = (token ?? '') + text[i + 1];
      i += 2;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) {
        throw new CommandSyntaxError('a single quote is not closed');
      }
      token = (token ?? '') + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let word = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length) {
          throw new CommandSyntaxError('a double quote is not closed');
        }
        const d = text[j];
        if (d === '"') {
          break;
        }
        if (d === '\\' && j + 1 < text.length) {
          const next = text[j + 1];
          // inside double quotes only \" and \\ are escapes (shlex keeps the backslash otherwise)
          word += next === '"' || next === '\\' ? next : d + next;
          j += 2;
          continue;
        }
        word += d;
        j += 1;
      }
      token = (token ?? '') + word;
      i = j + 1;
    } else {
      token = (token ?? '') + c;
      i += 1;
    }
  }
  if (token !== null) {
    argv.push(token);
  }
  return argv;
}

/** Characters a word may hold unquoted: shlex.quote's, and the braces of `{port}`. */
const UNSAFE = /[^\w@%+=:,./{}-]/;

/** One argument as `shlex.quote` writes it (braces left bare): splitCommand reads it back. */
export function quoteArg(arg: string): string {
  if (arg === '') {
    return "''";
  }
  if (!UNSAFE.test(arg)) {
    return arg;
  }
  return "'" + arg.replace(/'/g, `'"'"'`) + "'";
}

/** argv as one line of text, the inverse of splitCommand. */
export function joinArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ');
}

/** Shell syntax a word-split argv passes on literally: worth a hint to run it through a shell. */
const SHELL_WORDS = new Set([
  '|',
  '||',
  '&&',
  '&',
  ';',
  '>',
  '>>',
  '<',
  '2>&1'
]);

export function shellLooking(argv: readonly string[]): string | null {
  const word = argv.find(a => SHELL_WORDS.has(a) || /^\$\w/.test(a));
  return word ?? null;
}
