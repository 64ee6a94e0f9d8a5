package ops

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Operation is one typed Day-2 operation: Scale, Image, Autoscale,
// Resources or Rollback. Repo.Plan carries it out.
type Operation interface {
	// Name is the operation's name in the table ("scale").
	Name() string
	// String is the canonical command line ("scale order-service 5").
	String() string
	service() string
	validate() error
	plan(ctx context.Context, e *editor, ws []*workload, opts Options) error
}

// ArgType is the type of an operation's argument.
type ArgType string

// Argument types.
const (
	TypeInt        ArgType = "integer"
	TypeString     ArgType = "string"
	TypeBool       ArgType = "boolean"
	TypePercent    ArgType = "percent"    // 70 or 70%
	TypeQuantities ArgType = "quantities" // REQUEST/LIMIT, either may be empty: 100m/500m, 128Mi, /1Gi
	TypeDuration   ArgType = "duration"   // 30m, 12h, 7d
)

// Arg is one argument of an operation.
type Arg struct {
	// Name is the argument's key in a free-text intent ("replicas").
	Name string
	// Flag is its command-line flag ("--cpu"), empty for a positional one.
	Flag string
	Type ArgType
	// Required arguments must be given.
	Required bool
	Help     string
}

// Spec is one entry of the operation table.
type Spec struct {
	Name    string
	Summary string
	// Args follow the service, which every operation takes first.
	Args  []Arg
	build func(service string, v values) (Operation, error)
}

// Usage is the spec's command line, for help and usage errors.
func (s Spec) Usage() string {
	var b strings.Builder
	b.WriteString(s.Name + " SERVICE")
	for _, a := range s.Args {
		var part string
		switch {
		case a.Flag == "":
			part = strings.ToUpper(a.Name)
		case a.Type == TypeBool:
			part = a.Flag
		default:
			part = a.Flag + " " + strings.ToUpper(strings.TrimPrefix(a.Flag, "--"))
		}
		if !a.Required {
			part = "[" + part + "]"
		}
		b.WriteString(" " + part)
	}
	return b.String()
}

// values are parsed arguments by name: int, string, bool, Quantities or
// time.Duration.
type values map[string]any

func (v values) int(name string) int {
	i, _ := v[name].(int)
	return i
}

func (v values) str(name string) string {
	s, _ := v[name].(string)
	return s
}

func (v values) bool(name string) bool {
	b, _ := v[name].(bool)
	return b
}

// Quantities is a request and a limit; an empty one is left as it is.
type Quantities struct {
	Request string `json:"request,omitempty"`
	Limit   string `json:"limit,omitempty"`
}

// String is the command-line form, REQUEST/LIMIT.
func (q Quantities) String() string {
	if q.Limit == "" {
		return q.Request
	}
	return q.Request + "/" + q.Limit
}

// Table is the operation table, in the order help lists it. Parsing,
// free-text intents and their schema all derive from it.
func Table() []Spec {
	return []Spec{
		{Name: "scale", Summary: "Set the service's replicas everywhere they are defined; keeps PodDisruptionBudgets consistent; refuses when an autoscaler owns the replicas, unless --force.",
			Args: []Arg{
				{Name: "replicas", Type: TypeInt, Required: true, Help: "the number of replicas, 0 to 1000"},
				{Name: "force", Flag: "--force", Type: TypeBool, Help: "write the replicas even though a HorizontalPodAutoscaler owns them"},
			},
			build: func(s string, v values) (Operation, error) {
				return Scale{Service: s, Replicas: v.int("replicas"), Force: v.bool("force")}, nil
			}},
		{Name: "image", Summary: "Set the service's image tag or digest everywhere it is defined; pins the Flux ImagePolicy when the automation would move it back.",
			Args: []Arg{
				{Name: "ref", Type: TypeString, Required: true, Help: "a tag (1.4.2), a digest (sha256:...), tag@digest, or the image with either"},
				{Name: "container", Flag: "--container", Type: TypeString, Help: "the container, when the pod has several"},
			},
			build: func(s string, v values) (Operation, error) {
				return Image{Service: s, Ref: v.str("ref"), Container: v.str("container")}, nil
			}},
		{Name: "autoscale", Summary: "Give the service an autoscaling/v2 HorizontalPodAutoscaler on CPU, with the CPU requests it needs.",
			Args: []Arg{
				{Name: "min", Type: TypeInt, Required: true, Help: "minimum replicas, at least 1"},
				{Name: "max", Type: TypeInt, Required: true, Help: "maximum replicas, at least min"},
				{Name: "cpu_percent", Flag: "--cpu", Type: TypePercent, Help: "target average CPU utilization of the requests (default 70%)"},
			},
			build: func(s string, v values) (Operation, error) {
				return Autoscale{Service: s, Min: v.int("min"), Max: v.int("max"), CPUPercent: v.int("cpu_percent")}, nil
			}},
		{Name: "resources", Summary: "Set the service's CPU and memory requests and limits, or right-size them from observed usage (--from-metrics).",
			Args: []Arg{
				{Name: "cpu", Flag: "--cpu", Type: TypeQuantities, Help: "CPU REQUEST/LIMIT, such as 100m/500m (either part may be left out)"},
				{Name: "memory", Flag: "--memory", Type: TypeQuantities, Help: "memory REQUEST/LIMIT, such as 128Mi/256Mi"},
				{Name: "from_metrics", Flag: "--from-metrics", Type: TypeBool, Help: "compute both from the service's usage in Prometheus"},
				{Name: "window", Flag: "--window", Type: TypeDuration, Help: "the usage window for --from-metrics (default 7d)"},
				{Name: "container", Flag: "--container", Type: TypeString, Help: "the container, when the pod has several"},
			},
			build: func(s string, v values) (Operation, error) {
				cpu, _ := v["cpu"].(Quantities)
				mem, _ := v["memory"].(Quantities)
				w, _ := v["window"].(time.Duration)
				return Resources{Service: s, CPU: cpu, Memory: mem, FromMetrics: v.bool("from_metrics"), Window: w, Container: v.str("container")}, nil
			}},
		{Name: "rollback", Summary: "Restore the service's manifests and image as they were at a commit or tag, leaving other services alone.",
			Args: []Arg{
				{Name: "to", Flag: "--to", Type: TypeString, Help: "the commit or tag to restore (the job picks the commit before the service's last change when it is left out)"},
			},
			build: func(s string, v values) (Operation, error) {
				return Rollback{Service: s, To: v.str("to")}, nil
			}},
	}
}

// Lookup finds an operation's spec by name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Table() {
		if s.Name == strings.ToLower(name) {
			return s, true
		}
	}
	return Spec{}, false
}

// names lists the table's operation names.
func names() string {
	var n []string
	for _, s := range Table() {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// Limits of the argument parsers (their input comes from comments and
// model answers).
const (
	maxWords    = 16
	maxWordSize = 256
)

var serviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Parse reads an operation from the words of a command after its name
// (["order-service", "5", "--force"]), as the command table hands them
// over. Errors say what was wrong and show the usage.
func Parse(name string, words []string) (Operation, error) {
	spec, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown operation %q; the operations are: %s", clip(name), names())
	}
	usage := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s (usage: %s)", spec.Name, fmt.Sprintf(format, args...), spec.Usage())
	}
	if len(words) > maxWords {
		return nil, usage("too many arguments")
	}
	var pos []string
	raw := map[string]string{}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) > maxWordSize {
			return nil, usage("an argument is over %d bytes", maxWordSize)
		}
		if !strings.HasPrefix(w, "--") {
			pos = append(pos, w)
			continue
		}
		flag, val, hasVal := strings.Cut(w, "=")
		a, ok := spec.flag(flag)
		if !ok {
			return nil, usage("unknown flag %q", clip(flag))
		}
		if _, dup := raw[a.Name]; dup {
			return nil, usage("%s given twice", a.Flag)
		}
		switch {
		case a.Type == TypeBool && !hasVal:
			val = "true"
		case !hasVal:
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				return nil, usage("%s needs a value", a.Flag)
			}
			i++
			val = words[i]
		}
		raw[a.Name] = val
	}
	if len(pos) == 0 {
		return nil, usage("name the service")
	}
	service := pos[0]
	var positional []Arg
	for _, a := range spec.Args {
		if a.Flag == "" {
			positional = append(positional, a)
		}
	}
	if len(pos)-1 > len(positional) {
		return nil, usage("unexpected argument %q", clip(pos[len(positional)+1]))
	}
	for i, w := range pos[1:] {
		raw[positional[i].Name] = w
	}
	v := values{}
	for _, a := range spec.Args {
		s, ok := raw[a.Name]
		if !ok {
			if a.Required {
				return nil, usage("%s is missing", strings.ToUpper(a.Name))
			}
			continue
		}
		x, err := convert(a, s)
		if err != nil {
			return nil, usage("%v", err)
		}
		v[a.Name] = x
	}
	return build(spec, service, v)
}

// build checks the service name, builds the operation and validates it.
func build(spec Spec, service string, v values) (Operation, error) {
	if !serviceName.MatchString(service) {
		return nil, fmt.Errorf("%s: %q is not a service name (lowercase letters, digits and '-', at most 63)", spec.Name, clip(service))
	}
	op, err := spec.build(service, v)
	if err != nil {
		return nil, err
	}
	if err := op.validate(); err != nil {
		return nil, err
	}
	return op, nil
}

// flag finds the argument a flag names.
func (s Spec) flag(f string) (Arg, bool) {
	for _, a := range s.Args {
		if a.Flag != "" && a.Flag == f {
			return a, true
		}
	}
	return Arg{}, false
}

// convert reads one argument's text by its type.
func convert(a Arg, s string) (any, error) {
	switch a.Type {
	case TypeInt:
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100000 {
			return nil, fmt.Errorf("%s must be a whole number, not %q", strings.ToUpper(a.Name), clip(s))
		}
		return n, nil
	case TypeBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%s takes no value, or true or false, not %q", a.Flag, clip(s))
		}
		return b, nil
	case TypePercent:
		n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("%s must be a percentage such as 70%%, not %q", a.Flag, clip(s))
		}
		return n, nil
	case TypeQuantities:
		return parseQuantities(a, s)
	case TypeDuration:
		return parseWindow(s)
	}
	return s, nil
}

// parseQuantities reads REQUEST/LIMIT.
func parseQuantities(a Arg, s string) (Quantities, error) {
	req, lim, _ := strings.Cut(s, "/")
	q := Quantities{Request: strings.TrimSpace(req), Limit: strings.TrimSpace(lim)}
	if q.Request == "" && q.Limit == "" {
		return q, fmt.Errorf("%s needs REQUEST/LIMIT, such as 100m/500m", a.Flag)
	}
	for _, v := range []string{q.Request, q.Limit} {
		if v == "" {
			continue
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			return q, fmt.Errorf("%s: %q is not a Kubernetes quantity (such as 250m, 1, 512Mi, 2Gi)", a.Flag, clip(v))
		}
	}
	return q, nil
}

// parseWindow reads a duration, with d for days and w for weeks.
func parseWindow(s string) (time.Duration, error) {
	mult := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		mult = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		mult = 7 * 24 * time.Hour
	}
	var d time.Duration
	if mult != 0 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n < 1 || n > 90 {
			return 0, fmt.Errorf("window %q: use minutes, hours or days, such as 30m, 12h, 7d (at most 90d)", clip(s))
		}
		d = time.Duration(n) * mult
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("window %q: use minutes, hours or days, such as 30m, 12h, 7d", clip(s))
		}
	}
	if d < 10*time.Second || d > 90*24*time.Hour {
		return 0, fmt.Errorf("window %q: between 10s and 90d", clip(s))
	}
	return d, nil
}

// clip shortens user input quoted in an error.
func clip(s string) string {
	if r := []rune(strings.ToValidUTF8(s, "?")); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
