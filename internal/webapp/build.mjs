// Builds the webmail into dist/ (committed, and embedded in the Go binary
// by embed.go), so that `go build` needs no Node.js. `node build.mjs
// --check` builds in memory and fails if dist/ differs: make test runs it,
// so dist/ always is what the sources and package-lock.json make.
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { build } from "esbuild";

const check = process.argv.includes("--check");

const result = await build({
  entryPoints: { app: "src/main.tsx", style: "src/app.css" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome109", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  outdir: "dist",
  write: false,
  logLevel: "warning",
});

const stale = [];
for (const f of result.outputFiles) {
  const rel = f.path.slice(f.path.lastIndexOf("/dist/") + 1);
  if (check) {
    const have = await readFile(rel).catch(() => null);
    if (have === null || Buffer.compare(have, Buffer.from(f.contents)) !== 0) {
      stale.push(rel);
    }
  } else {
    await mkdir("dist", { recursive: true });
    await writeFile(rel, f.contents);
  }
}
if (stale.length > 0) {
  console.error(`webapp: ${stale.join(", ")} out of date: run "make webapp" and commit dist/`);
  process.exit(1);
}
