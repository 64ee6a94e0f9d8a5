package llm

import (
	"bytes"
	"encoding/json"
)

// proposalSchema is the JSON Schema of a [Proposal] in the subset OpenAI's
// strict structured outputs accept: every object lists all of its
// properties as required and forbids any other.
const proposalSchema = `{
  "type": "object",
  "properties": {
    "edits": {
      "type": "array",
      "description": "Whole-file edits, at most one per path.",
      "items": {
        "type": "object",
        "properties": {
          "path": {
            "type": "string",
            "description": "File path relative to the repository root, slash-separated, no '..'."
          },
          "action": {
            "type": "string",
            "enum": ["create", "replace", "delete"]
          },
          "content": {
            "type": "string",
            "description": "The whole new file for create and replace; empty for delete."
          }
        },
        "required": ["path", "action", "content"],
        "additionalProperties": false
      }
    },
    "summary": {
      "type": "string",
      "description": "What the edits do, in one or two sentences."
    },
    "assumptions": {
      "type": "array",
      "items": {"type": "string"}
    },
    "risks": {
      "type": "array",
      "items": {"type": "string"}
    }
  },
  "required": ["edits", "summary", "assumptions", "risks"],
  "additionalProperties": false
}`

// ProposalSchema is the JSON Schema of a [Proposal], sent as the
// json_schema response format. It implements json.Marshaler, as go-openai
// expects; treat it as read-only.
var ProposalSchema = json.RawMessage(compactSchema())

// schemaName names the schema in the response_format request field.
const schemaName = "kubewright_proposal"

func compactSchema() []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(proposalSchema)); err != nil {
		panic("llm: proposal schema is not valid JSON: " + err.Error())
	}
	return b.Bytes()
}

// ProposalSchemaJSON returns the schema as indented text, for prompts that
// cannot use the json_schema response format.
func ProposalSchemaJSON() string {
	var b bytes.Buffer
	if err := json.Indent(&b, ProposalSchema, "", "  "); err != nil {
		panic("llm: proposal schema is not valid JSON: " + err.Error())
	}
	return b.String()
}
