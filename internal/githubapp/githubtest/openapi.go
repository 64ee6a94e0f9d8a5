package githubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// specRel is GitHub's OpenAPI description inside the module, installed by
// `make test-assets` from the pinned npm package @octokit/openapi.
const specRel = "hack/npm/node_modules/@octokit/openapi/generated/api.github.com.json"

// The description is 13 MB and takes about two seconds to load, so a test
// binary loads it once. The document is never modified after loading.
var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
	specTook time.Duration
)

// loadSpec returns GitHub's OpenAPI description, loading it on first use.
// A missing file fails the test: conformance is not optional.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		path, err := findSpec()
		if err != nil {
			specErr = err
			return
		}
		start := time.Now()
		loader := openapi3.NewLoader()
		specDoc, err = loader.LoadFromFile(path)
		specTook = time.Since(start)
		if err != nil {
			specErr = fmt.Errorf("load GitHub's OpenAPI description %s: %w (reinstall it with `make test-assets`)", path, err)
		}
	})
	if specErr != nil {
		t.Fatalf("githubtest: %v", specErr)
	}
	return specDoc
}

// SpecLoadTime reports how long loading GitHub's OpenAPI description took in
// this test binary (zero before the first New).
func SpecLoadTime() time.Duration { return specTook }

// findSpec returns the path of GitHub's OpenAPI description at the module
// root.
func findSpec() (string, error) { return findAsset(specRel, "GitHub's OpenAPI description") }

// conformance checks requests and responses against the description and
// counts what it checked, per operation id.
type conformance struct {
	doc    *openapi3.T
	report func(operationID string, err error)

	mu        sync.Mutex
	requests  map[string]int
	responses map[string]int
}

// operation finds method+specPath in the description; the fake refuses to
// serve a route GitHub does not document.
func (c *conformance) operation(method, specPath string) (*routers.Route, error) {
	item := c.doc.Paths.Value(specPath)
	if item == nil {
		return nil, fmt.Errorf("path %s is not in GitHub's OpenAPI description", specPath)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, fmt.Errorf("%s %s is not in GitHub's OpenAPI description", method, specPath)
	}
	return &routers.Route{Spec: c.doc, Path: specPath, PathItem: item, Method: method, Operation: op}, nil
}

func (c *conformance) input(rt *routers.Route, r *http.Request, params map[string]string, body []byte) *openapi3filter.RequestValidationInput {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      rt,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
			MultiError:          true,
		},
	}
}

// checkRequest validates what the client sent: parameters and body.
func (c *conformance) checkRequest(ctx context.Context, rt *routers.Route, r *http.Request, params map[string]string, body []byte) error {
	c.count(c.requests, rt.Operation.OperationID)
	// go-github and ghinstallation send the JSON body `null` for an omitted
	// optional body (nil options), and GitHub accepts it; the description
	// only allows an object. Treat it as no body when the body is optional.
	if rb := rt.Operation.RequestBody; rb != nil && rb.Value != nil && !rb.Value.Required &&
		string(bytes.TrimSpace(body)) == "null" {
		body = nil
	}
	return openapi3filter.ValidateRequest(ctx, c.input(rt, r, params, body))
}

// genericStatus lists the errors GitHub answers on any operation although
// most operations do not declare them (authentication, rate limits,
// validation, server trouble). Their bodies must still have GitHub's error
// shape.
var genericStatus = map[int]string{
	http.StatusUnauthorized:        "basic-error",
	http.StatusForbidden:           "basic-error",
	http.StatusNotFound:            "basic-error",
	http.StatusUnprocessableEntity: "validation-error",
	http.StatusTooManyRequests:     "basic-error",
	http.StatusInternalServerError: "basic-error",
	http.StatusBadGateway:          "basic-error",
	http.StatusServiceUnavailable:  "basic-error",
	http.StatusGatewayTimeout:      "basic-error",
}

// checkResponse validates what the fake is about to send: the status must be
// declared for the operation (or be one of GitHub's generic errors), and the
// content type and body must match the declared schema.
func (c *conformance) checkResponse(ctx context.Context, rt *routers.Route, r *http.Request, params map[string]string, status int, header http.Header, body []byte) error {
	c.count(c.responses, rt.Operation.OperationID)
	responses := rt.Operation.Responses
	if responses.Status(status) == nil && responses.Default() == nil {
		name, ok := genericStatus[status]
		if !ok {
			return fmt.Errorf("status %d is not declared for %s %s", status, rt.Method, rt.Path)
		}
		return c.checkGeneric(name, header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: c.input(rt, r, params, nil),
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, in)
}

func (c *conformance) checkGeneric(schemaName string, header http.Header, body []byte) error {
	ref := c.doc.Components.Schemas[schemaName]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("schema %s is not in GitHub's OpenAPI description", schemaName)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("error response has content type %q, GitHub sends application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error response body: %w", err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("error response body does not match %s: %w", schemaName, err)
	}
	return nil
}

func (c *conformance) count(m map[string]int, op string) {
	c.mu.Lock()
	m[op]++
	c.mu.Unlock()
}

func (c *conformance) snapshot(m map[string]int) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
