// Builds the client SDK (src/client) for browsers and Node: ES modules in public/sdk/ (served
// by the Worker at /sdk/) and one declaration bundle in dist/client/ for the package's
// `./client` export. Runs on install, before `dev` and before `test`.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { cwd: root, stdio: "inherit" });

// 1. JavaScript. tsc also emits the server files the SDK's types come from (the imports are
//    type-only and erased), so it writes to a staging folder and only client/ is published.
run(["-p", "tsconfig.client.json"]);
const staged = join(root, "dist", "sdk-build", "client");
const published = join(root, "public", "sdk");
rmSync(published, { recursive: true, force: true });
mkdirSync(published, { recursive: true });
for (const file of readdirSync(staged).filter((f) => f.endsWith(".js"))) {
  const js = readFileSync(join(staged, file), "utf8");
  const code = js
    .split("\n")
    .filter((line) => !/^\s*(\/\/|\/\*|\*)/.test(line))
    .join("\n");
  const outside = [...code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"]([^'"]+)/g)].map((m) => m[1]).filter((s) => !s.startsWith("./"));
  if (outside.length) throw new Error(`public/sdk/${file} imports outside the SDK: ${outside.join(", ")}`);
  writeFileSync(join(published, file), js);
}

// 2. Types: one bundle, because the schemas the types come from are written for the Workers
//    toolchain (extensionless imports, workers types) and cannot be re-checked under NodeNext.
run([
  "-p", "tsconfig.client.json",
  "--declaration", "--emitDeclarationOnly",
  "--isolatedModules", "false", "--verbatimModuleSyntax", "false",
  "--module", "amd", "--moduleResolution", "node10",
  "--outFile", "dist/client/sdk.d.ts",
]);
writeFileSync(join(root, "dist", "client", "index.d.ts"), "/// <reference path='./sdk.d.ts' />\nexport * from 'client/index';\n");
