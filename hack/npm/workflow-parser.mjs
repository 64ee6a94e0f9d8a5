// Parses GitHub Actions workflows and action metadata with GitHub's own
// parser (@actions/workflow-parser, pinned in package.json), for the Go
// tests (internal/workflowlint). Input on stdin: a JSON array of
// {name, kind: "workflow" | "action", content}. Output on stdout: a JSON
// array of {file, line, column, message}, empty when everything parses.
// It reads nothing else and writes nothing else.
import { readFileSync } from "node:fs";
import { register } from "node:module";

// The package imports its JSON schemas without import attributes, which
// bundlers accept and Node's loader refuses: a load hook serves .json
// files as modules exporting the parsed document.
const jsonAsModule = `
import { readFile } from "node:fs/promises";
export async function load(url, context, next) {
  if (url.startsWith("file:") && url.endsWith(".json")) {
    const text = await readFile(new URL(url), "utf8");
    return { format: "module", shortCircuit: true, source: "export default " + JSON.stringify(JSON.parse(text)) + ";" };
  }
  return next(url, context);
}`;
register("data:text/javascript," + encodeURIComponent(jsonAsModule));

const { NoOperationTraceWriter, convertWorkflowTemplate, parseWorkflow } = await import("@actions/workflow-parser");
const { convertActionTemplate, parseAction } = await import("@actions/workflow-parser/actions/index");
const { ErrorPolicy } = await import("@actions/workflow-parser/model/convert");

const trace = new NoOperationTraceWriter();
const files = JSON.parse(readFileSync(0, "utf8"));
const problems = [];

for (const f of files) {
  const file = { name: f.name, content: f.content };
  let result;
  if (f.kind === "action") {
    result = parseAction(file, trace);
    if (result.value) {
      convertActionTemplate(result.context, result.value);
    }
  } else if (f.kind === "workflow") {
    result = parseWorkflow(file, trace);
    if (result.value) {
      // Conversion finds what the schema alone does not: bad needs,
      // matrix and concurrency values, expressions in the wrong place.
      await convertWorkflowTemplate(result.context, result.value, undefined, {
        errorPolicy: ErrorPolicy.TryConversion,
      });
    }
  } else {
    problems.push({ file: f.name, line: 0, column: 0, message: `unknown kind ${JSON.stringify(f.kind)}` });
    continue;
  }
  if (!result.value && result.context.errors.count === 0) {
    problems.push({ file: f.name, line: 0, column: 0, message: "the parser returned no document" });
  }
  for (const e of result.context.errors.getErrors()) {
    problems.push({
      file: f.name,
      line: e.range?.start.line ?? 0,
      column: e.range?.start.column ?? 0,
      message: e.rawMessage,
    });
  }
}

process.stdout.write(JSON.stringify(problems));
