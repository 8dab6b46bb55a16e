import {
  CommandSyntaxError,
  joinArgv,
  quoteArg,
  shellLooking,
  splitCommand
} from '../argv';
// cases whose answers Python's shlex.split gave (tests/test_argv_fixture.py checks them)
import cases from './argv-cases.json';

describe('splitCommand', () => {
  it.each(cases.split as [string, string[]][])(
    'splits %j as shlex.split does',
    (text, argv) => {
      expect(splitCommand(text)).toEqual(argv);
    }
  );

  it.each(cases.errors)('refuses %j as shlex.split does', text => {
    expect(() => splitCommand(text)).toThrow(CommandSyntaxError);
  });
});

describe('joinArgv', () => {
  it('reads back what it writes', () => {
    for (const [, argv] of cases.split as [string, string[]][]) {
      expect(splitCommand(joinArgv(argv))).toEqual(argv);
    }
  });

  it('quotes only what needs it, braces left bare', () => {
    expect(joinArgv(['python3', '-m', 'http.server', '{port}'])).toBe(
      'python3 -m http.server {port}'
    );
    expect(quoteArg("it's a b")).toBe(`'it'"'"'s a b'`);
    expect(quoteArg('')).toBe("''");
  });
});

describe('shellLooking', () => {
  it('names the shell syntax an argv would pass on literally', () => {
    expect(shellLooking(['a', '|', 'b'])).toBe('|');
    expect(shellLooking(['echo', '$HOME'])).toBe('$HOME');
    expect(shellLooking(['python', 'app.py'])).toBeNull();
  });
});
