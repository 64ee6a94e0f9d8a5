package githubtest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// gqlObject is a value of a GraphQL object type that the fake serves.
// resolve returns the field's value: nil, a bool, an int, a string, a
// []any, or another gqlObject. A field the fake does not serve returns
// errUnserved; the test that asked for it fails, naming the field.
type gqlObject interface {
	typename() string
	resolve(x *gqlExec, field string, args map[string]any) (any, error)
}

// errUnserved marks a field of GitHub's schema that the fake does not
// implement (yet).
var errUnserved = errors.New("not served by githubtest")

// gqlFail is an error GitHub reports in the answer (NOT_FOUND,
// FORBIDDEN, ...), as opposed to a fault of the test or the fake.
type gqlFail struct{ kind, msg string }

func (e *gqlFail) Error() string { return e.msg }

func notFoundErr(format string, args ...any) error {
	return &gqlFail{kind: "NOT_FOUND", msg: fmt.Sprintf(format, args...)}
}

// gqlExec runs one validated operation against the fake's state; the
// caller holds s.mu.
type gqlExec struct {
	s       *Server
	schema  *ast.Schema
	doc     *ast.QueryDocument
	vars    map[string]any
	account string // the token's installation account
	op      string
	errs    []gqlError
}

// fieldGroup is the fields of one response key, merged as GraphQL merges
// them.
type fieldGroup struct {
	key    string
	fields []*ast.Field
}

// collect flattens a selection set for an object of type typ: fragments
// whose type condition matches are inlined, @skip and @include applied.
func (x *gqlExec) collect(typ string, set ast.SelectionSet, groups []fieldGroup) []fieldGroup {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !x.included(sel.Directives) {
				continue
			}
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			i := slices.IndexFunc(groups, func(g fieldGroup) bool { return g.key == key })
			if i < 0 {
				groups = append(groups, fieldGroup{key: key})
				i = len(groups) - 1
			}
			groups[i].fields = append(groups[i].fields, sel)
		case *ast.InlineFragment:
			if x.included(sel.Directives) && x.matches(typ, sel.TypeCondition) {
				groups = x.collect(typ, sel.SelectionSet, groups)
			}
		case *ast.FragmentSpread:
			if x.included(sel.Directives) && sel.Definition != nil && x.matches(typ, sel.Definition.TypeCondition) {
				groups = x.collect(typ, sel.Definition.SelectionSet, groups)
			}
		}
	}
	return groups
}

func (x *gqlExec) included(ds ast.DirectiveList) bool {
	if d := ds.ForName("skip"); d != nil && d.ArgumentMap(x.vars)["if"] == true {
		return false
	}
	if d := ds.ForName("include"); d != nil && d.ArgumentMap(x.vars)["if"] != true {
		return false
	}
	return true
}

// matches tells whether an object of type typ satisfies a type condition.
func (x *gqlExec) matches(typ, cond string) bool {
	if cond == "" || cond == typ {
		return true
	}
	def := x.schema.Types[cond]
	if def == nil {
		return false
	}
	return slices.ContainsFunc(x.schema.GetPossibleTypes(def), func(d *ast.Definition) bool { return d.Name == typ })
}

// selectionSet resolves the fields of obj that set selects.
func (x *gqlExec) selectionSet(obj gqlObject, set ast.SelectionSet, path []any) map[string]any {
	out := map[string]any{}
	for _, g := range x.collect(obj.typename(), set, nil) {
		f := g.fields[0]
		fpath := append(slices.Clip(path), g.key)
		if f.Name == "__typename" {
			out[g.key] = obj.typename()
			continue
		}
		var sub ast.SelectionSet
		for _, ff := range g.fields {
			sub = append(sub, ff.SelectionSet...)
		}
		v, err := obj.resolve(x, f.Name, f.ArgumentMap(x.vars))
		if err != nil {
			x.fail(f, fpath, obj.typename(), err)
			out[g.key] = nil
			continue
		}
		out[g.key] = x.complete(f, f.Definition.Type, v, sub, fpath)
	}
	return out
}

// fail records a resolver's error: GitHub's own (NOT_FOUND ...) go into the
// answer; a field the fake does not serve fails the test too.
func (x *gqlExec) fail(f *ast.Field, path []any, typ string, err error) {
	ge := gqlError{Path: path, Message: err.Error()}
	if f.Position != nil {
		ge.Locations = []gqlLocation{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	var gf *gqlFail
	if errors.As(err, &gf) {
		ge.Type = gf.kind
	} else {
		x.s.conf.report(x.op, fmt.Errorf("%s.%s: %w (add it to githubtest's graphql_types.go)", typ, f.Name, err))
	}
	x.errs = append(x.errs, ge)
}

// complete checks a resolved value against the field's declared type (the
// fake's answers are held to the schema as its requests are) and resolves
// the sub-selection of objects.
func (x *gqlExec) complete(f *ast.Field, typ *ast.Type, v any, sub ast.SelectionSet, path []any) any {
	if v == nil {
		if typ.NonNull {
			x.s.conf.report(x.op, fmt.Errorf("the fake answered null for %s, declared %s, at %v", f.Name, typ, path))
		}
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			x.s.conf.report(x.op, fmt.Errorf("the fake answered %T for %s, declared %s", v, f.Name, typ))
			return nil
		}
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = x.complete(f, typ.Elem, e, sub, append(slices.Clip(path), i))
		}
		return out
	}
	def := x.schema.Types[typ.NamedType]
	switch def.Kind {
	case ast.Object, ast.Interface, ast.Union:
		obj, ok := v.(gqlObject)
		if !ok || !x.matches(obj.typename(), def.Name) {
			x.s.conf.report(x.op, fmt.Errorf("the fake answered %T for %s, declared %s", v, f.Name, typ))
			return nil
		}
		return x.selectionSet(obj, sub, path)
	case ast.Enum:
		s, ok := v.(string)
		if !ok || def.EnumValues.ForName(s) == nil {
			x.s.conf.report(x.op, fmt.Errorf("the fake answered %v for %s, not a value of the enum %s", v, f.Name, def.Name))
		}
		return v
	}
	var ok bool
	switch def.Name {
	case "Int":
		_, ok = v.(int)
	case "Boolean":
		_, ok = v.(bool)
	case "Float":
		_, ok = v.(float64)
	default: // String, ID and GitHub's string-encoded scalars (DateTime, URI, GitObjectID, BigInt, HTML)
		_, ok = v.(string)
	}
	if !ok {
		x.s.conf.report(x.op, fmt.Errorf("the fake answered %T for %s, declared %s", v, f.Name, typ))
	}
	return v
}

// connection is one page of a GraphQL connection, paged as GitHub pages:
// first or last is required, at most 100.
type connection struct {
	typ   string // e.g. PullRequestReviewThreadConnection
	edge  string // e.g. PullRequestReviewThreadEdge
	all   []any
	start int
	end   int
}

// cursor is the opaque cursor of the i-th element of a connection.
func cursor(i int) string {
	return base64.StdEncoding.EncodeToString([]byte("cursor:v2:" + strconv.Itoa(i)))
}

func cursorIndex(c string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, ok := strings.CutPrefix(string(b), "cursor:v2:")
	i, err := strconv.Atoi(n)
	return i, ok && err == nil && i >= 0
}

// page cuts all by the connection arguments first, after, last, before.
func page(typ, edge, field string, all []any, args map[string]any) (*connection, error) {
	first, hasFirst := args["first"].(int64)
	last, hasLast := args["last"].(int64)
	switch {
	case !hasFirst && !hasLast:
		return nil, &gqlFail{kind: "MISSING_PAGINATION_BOUNDARIES", msg: fmt.Sprintf("You must provide a `first` or `last` value to properly paginate the `%s` connection.", field)}
	case first > 100 || last > 100:
		return nil, &gqlFail{kind: "EXCESSIVE_PAGINATION", msg: fmt.Sprintf("Requesting %d records on the `%s` connection exceeds the limit of 100 records.", max(first, last), field)}
	case first < 0 || last < 0:
		return nil, &gqlFail{kind: "INVALID_PAGINATION", msg: "first and last must be positive"}
	}
	c := &connection{typ: typ, edge: edge, all: all, end: len(all)}
	if a, ok := args["after"].(string); ok {
		i, ok := cursorIndex(a)
		if !ok {
			return nil, &gqlFail{kind: "INVALID_CURSOR_ARGUMENTS", msg: fmt.Sprintf("`%s` does not appear to be a valid cursor.", a)}
		}
		c.start = min(i+1, len(all))
	}
	if b, ok := args["before"].(string); ok {
		i, ok := cursorIndex(b)
		if !ok {
			return nil, &gqlFail{kind: "INVALID_CURSOR_ARGUMENTS", msg: fmt.Sprintf("`%s` does not appear to be a valid cursor.", b)}
		}
		c.end = max(min(i, c.end), c.start)
	}
	if hasFirst {
		c.end = min(c.end, c.start+int(first))
	}
	if hasLast {
		c.start = max(c.start, c.end-int(last))
	}
	return c, nil
}

func (c *connection) typename() string { return c.typ }

func (c *connection) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	switch field {
	case "totalCount":
		return len(c.all), nil
	case "nodes":
		return append([]any{}, c.all[c.start:c.end]...), nil
	case "edges":
		var out []any
		for i := c.start; i < c.end; i++ {
			out = append(out, gqlFields{typ: c.edge, values: map[string]any{"cursor": cursor(i), "node": c.all[i]}})
		}
		return append([]any{}, out...), nil
	case "pageInfo":
		info := gqlFields{typ: "PageInfo", values: map[string]any{
			"hasNextPage": c.end < len(c.all), "hasPreviousPage": c.start > 0, "startCursor": nil, "endCursor": nil,
		}}
		if c.end > c.start {
			info.values["startCursor"], info.values["endCursor"] = cursor(c.start), cursor(c.end-1)
		}
		return info, nil
	}
	return nil, errUnserved
}

// gqlFields is an object whose fields are plain values (payloads, edges,
// page info).
type gqlFields struct {
	typ    string
	values map[string]any
}

func (o gqlFields) typename() string { return o.typ }

func (o gqlFields) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	v, ok := o.values[field]
	if !ok {
		return nil, errUnserved
	}
	return v, nil
}
