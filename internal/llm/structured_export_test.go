package llm

import "encoding/json"

// ParseStructured parses an answer to Answer against schema, as Answer
// does (for the fuzz target).
func ParseStructured(s string, schema json.RawMessage) (json.RawMessage, error) {
	_, root, err := newSchemaSpec("fuzz", schema)
	if err != nil {
		return nil, err
	}
	return parseStructuredText(s, root)
}
