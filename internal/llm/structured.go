package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	openai "github.com/sashabaranov/go-openai"
)

// Answerer asks a model for one JSON value following a JSON Schema. The
// schema's name labels it in the request (OpenAI's response_format
// name: letters, digits, '_' and '-', at most 64). *Client is one.
type Answerer interface {
	Answer(ctx context.Context, req Request, name string, schema json.RawMessage) (json.RawMessage, Usage, error)
}

var _ Answerer = (*Client)(nil)

// MaxStructuredBytes bounds the answer [Client.Answer] accepts: a longer
// one is malformed (and corrected once, asking for a shorter answer).
const MaxStructuredBytes = 256 << 10

// ErrMalformedAnswer is wrapped when a model's answer to [Client.Answer]
// does not follow the schema even after the corrective retry. It matches
// [ErrMalformed] too (errors.Is), so callers of both Propose and Answer
// may test for that one.
var ErrMalformedAnswer error = malformedAnswer{}

type malformedAnswer struct{}

func (malformedAnswer) Error() string        { return "model answer does not follow the requested schema" }
func (malformedAnswer) Is(target error) bool { return target == ErrMalformed }

// Answer asks the model for one JSON object following schema, named name.
// It is [Client.Propose] for any schema: the same budget metering
// (req.Meter is checked before each call and records each answer's usage),
// the same structured-output mode fallback (json_schema, then json_object,
// then the schema in the system message) and one corrective retry when
// the answer does not parse or does not follow the schema. The answer is
// returned compact; it is at most [MaxStructuredBytes] long.
//
// The schema is checked as sent (type, properties, required,
// additionalProperties false, items, enum, const, minItems, maxItems,
// minLength, maxLength, minimum, maximum, anyOf); other keywords are left
// to the server. A malformed schema or name is an error before any call.
//
// When an answer arrived but pushed a budget over its limit, Answer
// returns it together with an error wrapping [ErrBudget]. After a failed
// corrective retry the error wraps [ErrMalformedAnswer].
func (c *Client) Answer(ctx context.Context, req Request, name string, schema json.RawMessage) (json.RawMessage, Usage, error) {
	spec, root, err := newSchemaSpec(name, schema)
	if err != nil {
		agent := req.Agent
		if agent == "" {
			agent = "agent"
		}
		return nil, Usage{}, fmt.Errorf("llm %s: %w", agent, err)
	}
	return ask(ctx, c, req, spec, asking[json.RawMessage]{
		parse:      func(a answer) (json.RawMessage, error) { return parseStructured(a, root) },
		correction: structuredCorrection, malformed: ErrMalformedAnswer,
		invalid: "did not follow the schema", priorCap: MaxStructuredBytes,
	})
}

// structuredCorrection is the user message of Answer's corrective retry.
func structuredCorrection(perr error, finish string) string {
	var b strings.Builder
	b.WriteString("Your previous answer could not be used: ")
	b.WriteString(perr.Error())
	b.WriteString(".\n")
	if finish == string(openai.FinishReasonLength) {
		b.WriteString("It was cut off at the completion token limit: keep the answer shorter.\n")
	}
	b.WriteString("Answer again with only the corrected JSON object matching the schema: no prose, no code fence.")
	return b.String()
}

// parseStructured parses one answer: a single JSON object, bare or in one
// ```json fence, at most MaxStructuredBytes, following the schema.
func parseStructured(a answer, root *schemaNode) (json.RawMessage, error) {
	if a.refusal != "" && strings.TrimSpace(a.content) == "" {
		return nil, fmt.Errorf("the model refused: %s", clip(a.refusal, 300))
	}
	out, err := parseStructuredText(a.content, root)
	if err != nil && a.finish == string(openai.FinishReasonLength) {
		return nil, fmt.Errorf("the answer was cut off at the completion token limit: %w", err)
	}
	return out, err
}

func parseStructuredText(s string, root *schemaNode) (json.RawMessage, error) {
	if len(s) > MaxStructuredBytes {
		return nil, fmt.Errorf("the answer is %d bytes, more than the %d accepted: answer shorter", len(s), MaxStructuredBytes)
	}
	text, err := objectText(s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, describeStructuredError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("there is text after the JSON object: answer with one JSON object only")
	}
	var problems []string
	root.check("", v, &problems)
	if len(problems) > 0 {
		const shown = 10
		if len(problems) > shown {
			problems = append(problems[:shown], fmt.Sprintf("and %d more problems", len(problems)-shown))
		}
		return nil, errors.New(strings.Join(problems, "; "))
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(text)); err != nil {
		return nil, describeStructuredError(err)
	}
	return b.Bytes(), nil
}

func describeStructuredError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("the answer is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("the JSON object is cut off: answer with the complete object")
	}
	return fmt.Errorf("the answer is not valid JSON: %v", err)
}

// schemaNameRE is what OpenAI accepts as a response_format name.
var schemaNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// maxSchemaBytes bounds a schema sent with a request.
const maxSchemaBytes = 64 << 10

// newSchemaSpec checks name and schema and compiles the schema's checks.
func newSchemaSpec(name string, schema json.RawMessage) (schemaSpec, *schemaNode, error) {
	if !schemaNameRE.MatchString(name) {
		return schemaSpec{}, nil, fmt.Errorf("schema name %q: use 1 to 64 letters, digits, '_' or '-'", clip(name, 80))
	}
	if len(schema) > maxSchemaBytes {
		return schemaSpec{}, nil, fmt.Errorf("schema %s is %d bytes, more than %d", name, len(schema), maxSchemaBytes)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, schema); err != nil {
		return schemaSpec{}, nil, fmt.Errorf("schema %s is not valid JSON: %v", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return schemaSpec{}, nil, fmt.Errorf("schema %s is not valid JSON: %v", name, err)
	}
	m, ok := doc.(map[string]any)
	if !ok || m["type"] != "object" {
		return schemaSpec{}, nil, fmt.Errorf("schema %s must describe a JSON object (\"type\": \"object\")", name)
	}
	root, err := compileSchema("$", m, 0)
	if err != nil {
		return schemaSpec{}, nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return schemaSpec{name: name, raw: b.Bytes()}, root, nil
}

// indentSchema is a compact schema as indented text, for the system
// message of the modes without json_schema.
func indentSchema(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// schemaNode is the part of a JSON Schema Answer checks.
type schemaNode struct {
	types                []string
	props                map[string]*schemaNode
	required             []string
	closed               bool
	items                *schemaNode
	enum                 []any
	anyOf                []*schemaNode
	minItems, maxItems   int // -1: no bound
	minLength, maxLength int // -1: no bound
	minimum, maximum     *float64
}

// maxSchemaDepth bounds the nesting of a schema.
const maxSchemaDepth = 32

func compileSchema(at string, m map[string]any, depth int) (*schemaNode, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d", at, maxSchemaDepth)
	}
	n := &schemaNode{minItems: -1, maxItems: -1, minLength: -1, maxLength: -1}
	switch t := m["type"].(type) {
	case nil:
	case string:
		n.types = []string{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s.type: a list of type names", at)
			}
			n.types = append(n.types, s)
		}
	default:
		return nil, fmt.Errorf("%s.type: a type name or a list of them", at)
	}
	for _, t := range n.types {
		if !slices.Contains([]string{"object", "array", "string", "integer", "number", "boolean", "null"}, t) {
			return nil, fmt.Errorf("%s.type %q is not a JSON Schema type", at, t)
		}
	}
	if p, ok := m["properties"].(map[string]any); ok {
		n.props = map[string]*schemaNode{}
		for k, v := range p {
			sub, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.properties.%s: a schema object", at, k)
			}
			c, err := compileSchema(at+"."+k, sub, depth+1)
			if err != nil {
				return nil, err
			}
			n.props[k] = c
		}
	}
	if r, ok := m["required"].([]any); ok {
		for _, x := range r {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s.required: a list of property names", at)
			}
			n.required = append(n.required, s)
		}
	}
	n.closed = m["additionalProperties"] == false
	if it, ok := m["items"].(map[string]any); ok {
		c, err := compileSchema(at+"[]", it, depth+1)
		if err != nil {
			return nil, err
		}
		n.items = c
	}
	if e, ok := m["enum"].([]any); ok {
		n.enum = e
	}
	if c, ok := m["const"]; ok {
		n.enum = []any{c}
	}
	if a, ok := m["anyOf"].([]any); ok {
		for i, x := range a {
			sub, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.anyOf[%d]: a schema object", at, i)
			}
			c, err := compileSchema(fmt.Sprintf("%s.anyOf[%d]", at, i), sub, depth+1)
			if err != nil {
				return nil, err
			}
			n.anyOf = append(n.anyOf, c)
		}
	}
	for key, dst := range map[string]*int{"minItems": &n.minItems, "maxItems": &n.maxItems, "minLength": &n.minLength, "maxLength": &n.maxLength} {
		if v, ok := m[key]; ok {
			f, ok := number(v)
			if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				return nil, fmt.Errorf("%s.%s: a whole number, 0 or more", at, key)
			}
			*dst = int(f)
		}
	}
	for key, dst := range map[string]**float64{"minimum": &n.minimum, "maximum": &n.maximum} {
		if v, ok := m[key]; ok {
			f, ok := number(v)
			if !ok {
				return nil, fmt.Errorf("%s.%s: a number", at, key)
			}
			*dst = &f
		}
	}
	return n, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

// check appends to problems what is wrong with v at path at, each said so
// a model can fix it.
func (n *schemaNode) check(at string, v any, problems *[]string) {
	name := at
	if name == "" {
		name = "the answer"
	}
	add := func(format string, args ...any) {
		*problems = append(*problems, name+" "+fmt.Sprintf(format, args...))
	}
	if len(n.anyOf) > 0 {
		ok := false
		for _, alt := range n.anyOf {
			var p []string
			if alt.check(at, v, &p); len(p) == 0 {
				ok = true
				break
			}
		}
		if !ok {
			add("matches none of the allowed forms")
			return
		}
	}
	if len(n.types) > 0 && !slices.ContainsFunc(n.types, func(t string) bool { return isType(v, t) }) {
		add("must be %s, not %s", strings.Join(n.types, " or "), kindOf(v))
		return
	}
	if len(n.enum) > 0 && !slices.ContainsFunc(n.enum, func(e any) bool { return sameJSON(e, v) }) {
		var opts []string
		for _, e := range n.enum {
			b, _ := json.Marshal(e)
			opts = append(opts, string(b))
		}
		add("is %s: use one of %s", clip(jsonText(v), 80), clip(strings.Join(opts, ", "), 400))
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range n.required {
			if _, ok := x[r]; !ok {
				add("lacks %q", r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := n.props[k]
			switch {
			case ok:
				sub.check(join(at, k), x[k], problems)
			case n.closed:
				add("has the unknown field %q: use only %s", clip(k, 60), strings.Join(propNames(n.props), ", "))
			}
		}
	case []any:
		if n.minItems >= 0 && len(x) < n.minItems {
			add("has %d items: give at least %d", len(x), n.minItems)
		}
		if n.maxItems >= 0 && len(x) > n.maxItems {
			add("has %d items: give at most %d", len(x), n.maxItems)
		}
		if n.items != nil {
			for i, e := range x {
				n.items.check(fmt.Sprintf("%s[%d]", name, i), e, problems)
			}
		}
	case string:
		l := len([]rune(x))
		if n.minLength >= 0 && l < n.minLength {
			add("is %d characters: give at least %d", l, n.minLength)
		}
		if n.maxLength >= 0 && l > n.maxLength {
			add("is %d characters: keep it to %d", l, n.maxLength)
		}
	case json.Number:
		f, _ := x.Float64()
		if n.minimum != nil && f < *n.minimum {
			add("is %s: the minimum is %v", x, *n.minimum)
		}
		if n.maximum != nil && f > *n.maximum {
			add("is %s: the maximum is %v", x, *n.maximum)
		}
	}
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func propNames(m map[string]*schemaNode) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return false
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// sameJSON compares two decoded JSON values (numbers by value).
func sameJSON(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	return jsonText(a) == jsonText(b)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
