package githubtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// graphqlPath is where GitHub Enterprise Server serves GraphQL; go-github's
// enterprise base URL is {URL}/api/v3/, GraphQL's {URL}/api/graphql.
const graphqlPath = "/api/graphql"

// schemaRel is GitHub's published GraphQL schema inside the module,
// installed by `make test-assets` from the pinned npm package
// @octokit/graphql-schema.
const schemaRel = "hack/npm/node_modules/@octokit/graphql-schema/schema.graphql"

var (
	schemaOnce sync.Once
	schemaDoc  *ast.Schema
	schemaErr  error
)

// loadSchema returns GitHub's GraphQL schema, loading it on first use. A
// missing file fails the test: conformance is not optional.
func loadSchema(t testing.TB) *ast.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		path, err := findAsset(schemaRel, "GitHub's GraphQL schema")
		if err != nil {
			schemaErr = err
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			schemaErr = fmt.Errorf("read GitHub's GraphQL schema: %w (reinstall it with `make test-assets`)", err)
			return
		}
		schemaDoc, schemaErr = parseSchema(path, string(data))
	})
	if schemaErr != nil {
		t.Fatalf("githubtest: %v", schemaErr)
	}
	return schemaDoc
}

// parseSchema parses and validates GitHub's schema. The published schema
// declares a few fields twice, identically (EnterpriseOwnerInfo's
// repositoryDeployKeySetting fields in 15.26.1); the second copy is dropped.
// A field declared twice differently is an error.
func parseSchema(name, sdl string) (*ast.Schema, error) {
	doc, err := parser.ParseSchemas(validator.Prelude, &ast.Source{Name: filepath.Base(name), Input: sdl})
	if err != nil {
		return nil, fmt.Errorf("parse GitHub's GraphQL schema %s: %w", name, err)
	}
	for _, def := range doc.Definitions {
		seen := map[string]*ast.FieldDefinition{}
		kept := def.Fields[:0]
		for _, f := range def.Fields {
			if first := seen[f.Name]; first != nil {
				if first.Type.String() != f.Type.String() || len(first.Arguments) != len(f.Arguments) {
					return nil, fmt.Errorf("GitHub's GraphQL schema %s declares %s.%s twice, as %s and %s", name, def.Name, f.Name, first.Type, f.Type)
				}
				continue
			}
			seen[f.Name] = f
			kept = append(kept, f)
		}
		def.Fields = kept
	}
	schema, err := validator.ValidateSchemaDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("GitHub's GraphQL schema %s does not validate: %w", name, err)
	}
	return schema, nil
}

// findAsset walks up from the working directory (a package directory under
// `go test`) to the module root and returns rel's path there.
func findAsset(rel, what string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", what, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			path := filepath.Join(dir, rel)
			if _, err := os.Stat(path); err != nil {
				return "", fmt.Errorf("%s is missing (%s): run `make test-assets`", what, path)
			}
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s: no go.mod above the working directory; run the tests inside the module and run `make test-assets`", what)
		}
		dir = parent
	}
}

// gqlRequest is the body of POST /api/graphql.
type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

// gqlError is one entry of a GraphQL answer's errors, as GitHub shapes it.
type gqlError struct {
	Type      string         `json:"type,omitempty"`
	Path      []any          `json:"path,omitempty"`
	Locations []gqlLocation  `json:"locations,omitempty"`
	Message   string         `json:"message"`
	Ext       map[string]any `json:"extensions,omitempty"`
}

type gqlLocation struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// serveGraphQL checks the request against GitHub's GraphQL schema (a
// mismatch fails the test), authenticates it like the REST routes and
// executes it against the fake's state.
func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, reply{status: http.StatusNotFound, body: ghError("Not Found", docsURL, http.StatusNotFound)})
		return
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	account, ok := s.tokenAccount(cred)
	if cred == "" || !ok || (!strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer")) {
		writeJSON(w, reply{status: http.StatusUnauthorized, body: ghError("This endpoint requires you to be authenticated.", docsURL, http.StatusUnauthorized)})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, reply{status: http.StatusBadRequest, body: ghError("Problems reading the request body", docsURL, http.StatusBadRequest)})
		return
	}
	var req gqlRequest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Query) == "" {
		s.conf.report("graphql", fmt.Errorf("request body is not {\"query\": ..., \"variables\": ...}: %s", clipText(string(data), 200)))
		writeJSON(w, reply{status: http.StatusBadRequest, body: ghError("Problems parsing JSON", docsURL, http.StatusBadRequest)})
		return
	}
	if f, ok := s.takeFault(r.Method, strings.TrimPrefix(r.URL.Path, "/api"), "/graphql"); ok {
		writeJSON(w, f.reply())
		return
	}
	writeJSON(w, reply{status: http.StatusOK, body: s.execGraphQL(account, req)})
}

// execGraphQL validates and runs one request; the answer is {"data": ...,
// "errors": [...]} as GitHub sends it, with HTTP 200 either way.
func (s *Server) execGraphQL(account string, req gqlRequest) map[string]any {
	doc, perr := parser.ParseQuery(&ast.Source{Name: "query", Input: req.Query})
	if perr != nil {
		return s.gqlInvalid("graphql", gqlerror.List{asGQLError(perr)})
	}
	if errs := validator.Validate(s.schema, doc); len(errs) > 0 {
		return s.gqlInvalid("graphql", errs)
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil {
		return s.gqlInvalid("graphql", gqlerror.List{gqlerror.Errorf("no operation named %q in the document", req.OperationName)})
	}
	name := gqlOpName(op)
	for _, def := range op.VariableDefinitions {
		if v, ok := req.Variables[def.Variable]; ok {
			if err := strictValue(s.schema, def.Type, v, "$"+def.Variable); err != nil {
				return s.gqlInvalid(name, gqlerror.List{gqlerror.Errorf("Variable $%s of type %s was provided invalid value: %v", def.Variable, def.Type, err)})
			}
		}
	}
	vars, err := validator.VariableValues(s.schema, op, numbersToGo(req.Variables).(map[string]any))
	if err != nil {
		ge := asGQLError(err)
		if len(ge.Path) >= 2 {
			v, _ := ge.Path[1].(ast.PathName)
			if def := op.VariableDefinitions.ForName(string(v)); def != nil {
				ge.Message = fmt.Sprintf("Variable $%s of type %s was provided invalid value: %s", v, def.Type, ge.Message)
			}
		}
		return s.gqlInvalid(name, gqlerror.List{ge})
	}
	s.conf.count(s.conf.requests, name)

	s.refreshAccount(account)
	x := &gqlExec{s: s, schema: s.schema, doc: doc, vars: vars, account: account, op: name}
	s.mu.Lock()
	var root gqlObject = gqlQuery{}
	if op.Operation == ast.Mutation {
		root = gqlMutation{}
	}
	data := x.selectionSet(root, op.SelectionSet, nil)
	s.mu.Unlock()
	out := map[string]any{"data": data}
	if len(x.errs) > 0 {
		out["errors"] = x.errs
	}
	s.conf.count(s.conf.responses, name)
	return out
}

// gqlOpName names an operation for reports and counts: graphql/ and its
// root fields, e.g. graphql/resolveReviewThread.
func gqlOpName(op *ast.OperationDefinition) string {
	var names []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return "graphql/" + strings.Join(names, ",")
}

// gqlInvalid reports a request that does not match the schema (failing the
// test) and answers as GitHub does: errors and no data.
func (s *Server) gqlInvalid(op string, errs gqlerror.List) map[string]any {
	var out []gqlError
	var msgs []string
	for _, e := range errs {
		ge := gqlError{Message: e.Message}
		for _, l := range e.Locations {
			ge.Locations = append(ge.Locations, gqlLocation{Line: l.Line, Column: l.Column})
		}
		out = append(out, ge)
		msgs = append(msgs, e.Error())
	}
	s.conf.report(op, fmt.Errorf("request does not match GitHub's GraphQL schema: %s", strings.Join(msgs, "; ")))
	return map[string]any{"errors": out}
}

func asGQLError(err error) *gqlerror.Error {
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		return ge
	}
	return gqlerror.Wrap(err)
}

// strictValue checks a variable's JSON value against its type as GitHub
// does, where the validator is lenient: no string for an Int or a Boolean,
// a string for every custom scalar (DateTime, URI, GitObjectID, BigInt...).
func strictValue(schema *ast.Schema, typ *ast.Type, v any, path string) error {
	if v == nil {
		if typ.NonNull {
			return fmt.Errorf("%s: null for a non-null %s", path, typ)
		}
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok { // a single value stands for a list of one
			return strictValue(schema, typ.Elem, v, path)
		}
		for i, e := range list {
			if err := strictValue(schema, typ.Elem, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	def := schema.Types[typ.NamedType]
	if def == nil {
		return fmt.Errorf("%s: unknown type %s", path, typ.NamedType)
	}
	n, isNumber := v.(json.Number)
	_, isString := v.(string)
	_, isBool := v.(bool)
	ok := true
	switch {
	case def.Kind == ast.InputObject:
		m, isMap := v.(map[string]any)
		if !isMap {
			return fmt.Errorf("%s: %T for the input object %s", path, v, def.Name)
		}
		for _, f := range def.Fields {
			if err := strictValue(schema, f.Type, m[f.Name], path+"."+f.Name); err != nil {
				return err
			}
		}
		return nil
	case def.Kind == ast.Enum:
		ok = isString
	case def.Name == "Int":
		_, err := n.Int64()
		ok = isNumber && err == nil
	case def.Name == "Float":
		ok = isNumber
	case def.Name == "Boolean":
		ok = isBool
	case def.Name == "ID":
		_, err := n.Int64()
		ok = isString || (isNumber && err == nil)
	default: // String and GitHub's custom scalars
		ok = isString
	}
	if !ok {
		return fmt.Errorf("%s: %v is not a %s", path, v, def.Name)
	}
	return nil
}

// numbersToGo turns the json.Numbers of decoded variables into int64 or
// float64, the kinds the validator coerces.
func numbersToGo(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			if e == nil {
				continue
			}
			x[k] = numbersToGo(e)
		}
		return x
	case []any:
		for i, e := range x {
			if e != nil {
				x[i] = numbersToGo(e)
			}
		}
		return x
	}
	return v
}

// refreshAccount brings the pull requests of the account's repositories
// up to date with their branches before a request reads them.
func (s *Server) refreshAccount(account string) {
	s.mu.Lock()
	var names [][2]string
	for _, rp := range s.repos {
		if strings.EqualFold(rp.owner, account) {
			names = append(names, [2]string{rp.owner, rp.name})
		}
	}
	s.mu.Unlock()
	for _, n := range names {
		s.refreshRepo(n[0], n[1])
	}
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
