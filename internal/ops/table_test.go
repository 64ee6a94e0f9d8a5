package ops

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	cases := []struct {
		op    string
		words string
		want  Operation
		err   string
	}{
		{"scale", "order-service 5", Scale{Service: "order-service", Replicas: 5}, ""},
		{"SCALE", "order-service 0 --force", Scale{Service: "order-service", Replicas: 0, Force: true}, ""},
		{"scale", "order-service --force=false 3", Scale{Service: "order-service", Replicas: 3}, ""},
		{"scale", "order-service", nil, "REPLICAS is missing"},
		{"scale", "order-service five", nil, "REPLICAS must be a whole number"},
		{"scale", "order-service 5000", nil, "between 0 and 1000"},
		{"scale", "order-service 5 6", nil, `unexpected argument "6"`},
		{"scale", "order-service 5 --replicas 3", nil, `unknown flag "--replicas"`},
		{"scale", "Order_Service 5", nil, "is not a service name"},
		{"scale", "", nil, "name the service"},
		{"image", "order-service 1.4.2", Image{Service: "order-service", Ref: "1.4.2"}, ""},
		{"image", "order-service " + digest, Image{Service: "order-service", Ref: digest}, ""},
		{"image", "order-service ghcr.io/acme/order-service:1.4.2 --container api", Image{Service: "order-service", Ref: "ghcr.io/acme/order-service:1.4.2", Container: "api"}, ""},
		{"image", "order-service sha256:abc", nil, "is not a digest"},
		{"image", "order-service -bad", nil, "not a valid tag"},
		{"image", "order-service 1.0 --container", nil, "--container needs a value"},
		{"autoscale", "order-service 2 10", Autoscale{Service: "order-service", Min: 2, Max: 10}, ""},
		{"autoscale", "order-service 2 10 --cpu 60%", Autoscale{Service: "order-service", Min: 2, Max: 10, CPUPercent: 60}, ""},
		{"autoscale", "order-service 2 10 --cpu=85", Autoscale{Service: "order-service", Min: 2, Max: 10, CPUPercent: 85}, ""},
		{"autoscale", "order-service 5 2", nil, "MAX (2) must be at least MIN (5)"},
		{"autoscale", "order-service 0 2", nil, "MIN must be at least 1"},
		{"autoscale", "order-service 1 2 --cpu 0%", nil, "must be a percentage"},
		{"resources", "order-service --cpu 100m/500m --memory 128Mi/256Mi", Resources{Service: "order-service", CPU: Quantities{"100m", "500m"}, Memory: Quantities{"128Mi", "256Mi"}}, ""},
		{"resources", "order-service --memory /1Gi", Resources{Service: "order-service", Memory: Quantities{Limit: "1Gi"}}, ""},
		{"resources", "order-service --from-metrics --window 3d", Resources{Service: "order-service", FromMetrics: true, Window: 72 * time.Hour}, ""},
		{"resources", "order-service", nil, "give --cpu REQUEST/LIMIT"},
		{"resources", "order-service --cpu 1/500m", nil, "request 1 is above its limit 500m"},
		{"resources", "order-service --cpu lots", nil, "is not a Kubernetes quantity"},
		{"resources", "order-service --from-metrics --cpu 1", nil, "not both"},
		{"resources", "order-service --window 7d --cpu 1", nil, "--window goes with --from-metrics"},
		{"resources", "order-service --from-metrics --window 365d", nil, "at most 90d"},
		{"resources", "order-service --cpu 1 --cpu 2", nil, "--cpu given twice"},
		{"rollback", "order-service --to v1.2.0", Rollback{Service: "order-service", To: "v1.2.0"}, ""},
		{"rollback", "order-service --to 3f2a1bc", Rollback{Service: "order-service", To: "3f2a1bc"}, ""},
		{"rollback", "order-service", nil, "name the commit or tag"},
		{"rollback", "order-service --to --upload-pack=x", nil, "--to needs a value"},
		{"rollback", "order-service --to=-x", nil, "is not a commit or tag name"},
		{"rollback", "order-service --to a..b", nil, "is not a commit or tag name"},
		{"deploy", "order-service", nil, `unknown operation "deploy"; the operations are: scale, image, autoscale, resources, rollback`},
	}
	for _, c := range cases {
		got, err := Parse(c.op, strings.Fields(c.words))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %s: error %v, want one containing %q", c.op, c.words, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s %s: %v", c.op, c.words, err)
		case c.err == "" && !reflect.DeepEqual(got, c.want):
			t.Errorf("%s %s: %#v, want %#v", c.op, c.words, got, c.want)
		}
		if c.err == "" && err == nil {
			// The canonical command line parses back to the same operation.
			words := strings.Fields(got.String())
			again, err := Parse(words[0], words[1:])
			if err != nil || !reflect.DeepEqual(normalize(again), normalize(got)) {
				t.Errorf("%q does not parse back: %v %#v", got.String(), err, again)
			}
		}
	}
}

// normalize fills the defaults String writes out.
func normalize(op Operation) Operation {
	if a, ok := op.(Autoscale); ok && a.CPUPercent == 0 {
		a.CPUPercent = DefaultCPUPercent
		return a
	}
	return op
}

func TestUsage(t *testing.T) {
	want := map[string]string{
		"scale":     "scale SERVICE REPLICAS [--force]",
		"image":     "image SERVICE REF [--container CONTAINER]",
		"autoscale": "autoscale SERVICE MIN MAX [--cpu CPU]",
		"resources": "resources SERVICE [--cpu CPU] [--memory MEMORY] [--from-metrics] [--window WINDOW] [--container CONTAINER]",
		"rollback":  "rollback SERVICE [--to TO]",
	}
	for _, s := range Table() {
		if s.Usage() != want[s.Name] {
			t.Errorf("%s: usage %q, want %q", s.Name, s.Usage(), want[s.Name])
		}
	}
}

func TestParseIntent(t *testing.T) {
	cases := []struct {
		json string
		want []Operation
		err  string
	}{
		{`{"operations":[{"op":"scale","service":"order-service","args":{"replicas":5}},{"op":"resources","service":"order-service","args":{"memory":{"request":"256Mi","limit":"512Mi"}}}]}`,
			[]Operation{Scale{Service: "order-service", Replicas: 5}, Resources{Service: "order-service", Memory: Quantities{"256Mi", "512Mi"}}}, ""},
		{`{"operations":[{"op":"autoscale","service":"user-service","args":{"min":2,"max":6,"cpu_percent":"75%"}}]}`,
			[]Operation{Autoscale{Service: "user-service", Min: 2, Max: 6, CPUPercent: 75}}, ""},
		{`{"operations":[{"op":"image","service":"product-service","args":{"ref":"1.2.3"}}]}`, []Operation{Image{Service: "product-service", Ref: "1.2.3"}}, ""},
		{`{"operations":[{"op":"resources","service":"a","args":{"cpu":"100m/1","from_metrics":false}}]}`, []Operation{Resources{Service: "a", CPU: Quantities{"100m", "1"}}}, ""},
		{`{"operations":[]}`, nil, "no operation"},
		{`{"operations":[{"op":"scale","service":"a","args":{"replicas":5}}],"why":"x"}`, nil, "not the expected JSON"},
		{`{"operations":[{"op":"restart","service":"a","args":{}}]}`, nil, `operations[0]: unknown operation "restart"`},
		{`{"operations":[{"op":"scale","service":"a","args":{"count":5}}]}`, nil, `scale takes no argument "count"; it takes: replicas, force`},
		{`{"operations":[{"op":"scale","service":"a","args":{"replicas":"5"}}]}`, nil, "replicas must be a number"},
		{`{"operations":[{"op":"scale","service":"a","args":{"replicas":2.5}}]}`, nil, "replicas must be a whole number"},
		{`{"operations":[{"op":"scale","service":"a","args":{}}]}`, nil, `the argument "replicas" is missing`},
		{`{"operations":[{"op":"scale","service":"A B","args":{"replicas":1}}]}`, nil, "is not a service name"},
		{`{"operations":[{"op":"resources","service":"a","args":{"memory":{"request":"1Gi","max":"2Gi"}}}]}`, nil, `memory must be {"request"`},
		{`{"operations":[{"op":"scale","service":"a","args":{"replicas":1}}]} {}`, nil, "unexpected data after"},
		{`{"operations":[` + strings.Repeat(`{"op":"scale","service":"a","args":{"replicas":1}},`, 5) + `{"op":"scale","service":"a","args":{"replicas":1}}]}`, nil, "6 operations, at most 5"},
	}
	for _, c := range cases {
		got, err := ParseIntent([]byte(c.json))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.json, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.json, err)
		case c.err == "" && !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: %#v, want %#v", c.json, got, c.want)
		}
	}
}

// TestIntentSchema: the schema is JSON Schema of the table: one variant
// per operation, closed objects, the required arguments listed.
func TestIntentSchema(t *testing.T) {
	var s struct {
		Properties struct {
			Operations struct {
				Items struct {
					AnyOf []struct {
						AdditionalProperties bool `json:"additionalProperties"`
						Properties           struct {
							Op   struct{ Const string } `json:"op"`
							Args struct {
								Required             []string       `json:"required"`
								Properties           map[string]any `json:"properties"`
								AdditionalProperties bool           `json:"additionalProperties"`
							} `json:"args"`
						} `json:"properties"`
					} `json:"anyOf"`
				} `json:"items"`
			} `json:"operations"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(IntentSchema(), &s); err != nil {
		t.Fatal(err)
	}
	variants := s.Properties.Operations.Items.AnyOf
	if len(variants) != len(Table()) {
		t.Fatalf("%d variants for %d operations", len(variants), len(Table()))
	}
	for i, spec := range Table() {
		v := variants[i]
		if v.Properties.Op.Const != spec.Name || v.AdditionalProperties || v.Properties.Args.AdditionalProperties || len(v.Properties.Args.Properties) != len(spec.Args) {
			t.Errorf("variant %d does not describe %s: %+v", i, spec.Name, v)
		}
	}
	if got := strings.Join(variants[2].Properties.Args.Required, ","); got != "max,min" {
		t.Errorf("autoscale requires %q", got)
	}
}

// FuzzParse: any words parse to an operation whose canonical command
// parses back to it, or to an error; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"scale order-service 5 --force", "image a " + digest, "autoscale a 1 3 --cpu 50%", "resources a --cpu 1/2 --memory=/3Gi",
		"resources a --from-metrics --window 36h", "rollback a --to v1~2", "scale a --force=maybe 1", "image a x@y@z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Fields(line)
		if len(words) == 0 {
			return
		}
		op, err := Parse(words[0], words[1:])
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.ValidString(line) {
				t.Fatalf("invalid UTF-8 in %q", err)
			}
			return
		}
		again := strings.Fields(op.String())
		op2, err := Parse(again[0], again[1:])
		if err != nil || !reflect.DeepEqual(normalize(op), normalize(op2)) {
			t.Fatalf("%q → %q does not parse back: %v", line, op.String(), err)
		}
	})
}

// FuzzParseIntent: a model's answer parses or is refused, never panics,
// and what parses is valid.
func FuzzParseIntent(f *testing.F) {
	f.Add(`{"operations":[{"op":"scale","service":"a","args":{"replicas":5}}]}`)
	f.Add(`{"operations":[{"op":"resources","service":"a","args":{"cpu":{"request":"1"},"window":"2d","from_metrics":true}}]}`)
	f.Add(`{"operations":[{"op":"autoscale","service":"a","args":{"min":1e3,"max":1e400}}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		ops, err := ParseIntent([]byte(data))
		if err != nil {
			return
		}
		for _, op := range ops {
			if err := op.validate(); err != nil {
				t.Fatalf("%s parsed but does not validate: %v", op, err)
			}
		}
	})
}
