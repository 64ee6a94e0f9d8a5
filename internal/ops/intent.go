package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Free-text intents. For `/ai <request>` that means an operation, the
// model answers with an Intent (structured output against IntentSchema);
// ParseIntent validates it strictly against the operation table and
// returns the same typed operations the commands produce, so one code
// path carries out both. The model never edits files.

// MaxIntentOps caps the operations of one intent, MaxIntentBytes its size.
const (
	MaxIntentOps   = 5
	MaxIntentBytes = 16 << 10
)

// Intent is what the model fills in.
type Intent struct {
	Operations []IntentOp `json:"operations"`
}

// IntentOp is one operation of an intent: its name, the service and the
// arguments by their table names ({"replicas": 5}).
type IntentOp struct {
	Op      string                     `json:"op"`
	Service string                     `json:"service"`
	Args    map[string]json.RawMessage `json:"args"`
}

// ParseIntent decodes and validates a model's intent. Unknown fields,
// operations and arguments, wrong types and missing required arguments
// are errors that say which operation and argument, and what is allowed.
func ParseIntent(data []byte) ([]Operation, error) {
	if len(data) > MaxIntentBytes {
		return nil, fmt.Errorf("intent: %d bytes is over the %d byte limit", len(data), MaxIntentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in Intent
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("intent: not the expected JSON (%v)", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("intent: unexpected data after the JSON object")
	}
	switch {
	case len(in.Operations) == 0:
		return nil, fmt.Errorf("intent: no operation; the operations are: %s", names())
	case len(in.Operations) > MaxIntentOps:
		return nil, fmt.Errorf("intent: %d operations, at most %d", len(in.Operations), MaxIntentOps)
	}
	var out []Operation
	for i, o := range in.Operations {
		op, err := o.operation()
		if err != nil {
			return nil, fmt.Errorf("intent: operations[%d]: %w", i, err)
		}
		out = append(out, op)
	}
	return out, nil
}

// operation validates one intent operation and builds it.
func (o IntentOp) operation() (Operation, error) {
	spec, ok := Lookup(o.Op)
	if !ok || o.Op != spec.Name {
		return nil, fmt.Errorf("unknown operation %q; the operations are: %s", clip(o.Op), names())
	}
	v := values{}
	for name, raw := range o.Args {
		a, ok := spec.arg(name)
		if !ok {
			return nil, fmt.Errorf("%s takes no argument %q; it takes: %s", spec.Name, clip(name), spec.argNames())
		}
		x, err := fromJSON(a, raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		v[name] = x
	}
	for _, a := range spec.Args {
		if _, ok := v[a.Name]; a.Required && !ok {
			return nil, fmt.Errorf("%s: the argument %q is missing (usage: %s)", spec.Name, a.Name, spec.Usage())
		}
	}
	return build(spec, o.Service, v)
}

// arg finds an argument by its intent name.
func (s Spec) arg(name string) (Arg, bool) {
	for _, a := range s.Args {
		if a.Name == name {
			return a, true
		}
	}
	return Arg{}, false
}

func (s Spec) argNames() string {
	var n []string
	for _, a := range s.Args {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}

// fromJSON reads one argument's JSON value by its type.
func fromJSON(a Arg, raw json.RawMessage) (any, error) {
	switch a.Type {
	case TypeInt, TypePercent:
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			if a.Type == TypePercent {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					return convert(a, s)
				}
			}
			return nil, fmt.Errorf("%s must be a number", a.Name)
		}
		if f != math.Trunc(f) || math.Abs(f) > 1e9 {
			return nil, fmt.Errorf("%s must be a whole number", a.Name)
		}
		return convert(a, fmt.Sprint(int(f)))
	case TypeBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%s must be true or false", a.Name)
		}
		return b, nil
	case TypeQuantities:
		var q Quantities
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, fmt.Errorf(`%s must be {"request": "...", "limit": "..."} or "REQUEST/LIMIT"`, a.Name)
			}
			return convert(a, s)
		}
		return convert(a, q.String())
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s must be a string", a.Name)
	}
	if len(s) > maxWordSize {
		return nil, fmt.Errorf("%s is over %d bytes", a.Name, maxWordSize)
	}
	return convert(a, s)
}

// IntentSchema is the JSON Schema of an Intent, derived from the
// operation table, for the model's structured output.
func IntentSchema() []byte {
	var variants []any
	for _, s := range Table() {
		props := map[string]any{}
		var required []string
		for _, a := range s.Args {
			props[a.Name] = argSchema(a)
			if a.Required {
				required = append(required, a.Name)
			}
		}
		sort.Strings(required)
		args := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
		if len(required) > 0 {
			args["required"] = required
		}
		variants = append(variants, map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{"op", "service", "args"},
			"description": s.Summary,
			"properties": map[string]any{
				"op":      map[string]any{"const": s.Name},
				"service": map[string]any{"type": "string", "pattern": serviceName.String(), "description": "the service's name, as the repository's manifests name it"},
				"args":    args,
			},
		})
	}
	schema := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"title":   "kubewright Day-2 operations", "type": "object", "additionalProperties": false, "required": []string{"operations"},
		"properties": map[string]any{"operations": map[string]any{
			"type": "array", "minItems": 1, "maxItems": MaxIntentOps, "items": map[string]any{"anyOf": variants},
		}},
	}
	b, _ := json.MarshalIndent(schema, "", "  ") // maps of plain values always marshal
	return b
}

// argSchema is the JSON Schema of one argument.
func argSchema(a Arg) map[string]any {
	m := map[string]any{"description": a.Help}
	switch a.Type {
	case TypeInt:
		m["type"], m["minimum"] = "integer", 0
	case TypePercent:
		m["type"], m["minimum"], m["maximum"] = "integer", 1, 1000
	case TypeBool:
		m["type"] = "boolean"
	case TypeQuantities:
		m["type"], m["additionalProperties"] = "object", false
		m["properties"] = map[string]any{"request": map[string]any{"type": "string"}, "limit": map[string]any{"type": "string"}}
	default:
		m["type"] = "string"
	}
	return m
}
