package yamlsafe

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// bomb is the classic billion laughs: ten levels of nine aliases each.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [\"lol\"]\n")
	for i := 1; i < levels; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		lim      Limits
		wantErr  error
		wantLine int
		wantIn   string
	}{
		{name: "plain manifest", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"},
		{name: "multi document", data: "a: 1\n---\nb: 2\n---\n"},
		{name: "empty", data: ""},
		{name: "few aliases are fine", data: "x: &x {a: 1, b: 2}\ny: *x\nz:\n  <<: *x\n  c: 3\n"},
		{name: "billion laughs", data: bomb(10), wantErr: ErrAliasBudget, wantLine: 7, wantIn: "alias *a5"},
		{name: "bomb just under budget", data: bomb(4), lim: Limits{MaxNodes: 2000}},
		{name: "bomb just over budget", data: bomb(4), lim: Limits{MaxNodes: 500}, wantErr: ErrAliasBudget, wantLine: 4},
		{name: "self-referencing alias", data: "a: &a [1, *a]\n", wantErr: ErrAliasBudget, wantLine: 1, wantIn: "contains it"},
		{name: "too many plain nodes", data: "[" + strings.Repeat("1,", 300) + "1]", lim: Limits{MaxNodes: 100}, wantErr: ErrAliasBudget, wantLine: 1},
		{name: "over byte cap", data: strings.Repeat("a", 101), lim: Limits{MaxBytes: 100}, wantErr: ErrTooLarge, wantIn: "101 bytes, over the 100 bytes cap"},
		{name: "syntax error names the line", data: "a: 1\nb: [\n", wantErr: ErrSyntax, wantLine: 2},
		{name: "budget is per file across documents", data: "a: &a [1,2,3]\nb: [*a,*a]\n---\nc: &c [1,2,3]\nd: [*c,*c]\n", lim: Limits{MaxNodes: 20}, wantErr: ErrAliasBudget, wantLine: 4},
		{name: "alias to an earlier document is counted", data: "a: &a [1,2,3,4,5]\n---\nb: [*a,*a,*a]\n", lim: Limits{MaxNodes: 20}, wantErr: ErrAliasBudget, wantLine: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check("deploy/app.yaml", []byte(tt.data), tt.lim)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want %v", err, tt.wantErr)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.File != "deploy/app.yaml" || e.Hint == "" {
				t.Errorf("error %+v: want the file named and a hint", e)
			}
			if tt.wantLine != 0 && e.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", e.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q does not contain %q", err, tt.wantIn)
			}
		})
	}
}

// The bomb's real expansion is 9^9 lists of one string; the check must
// refuse it without expanding anything, in well under a millisecond of
// allocation per byte.
func TestCheckBombIsCheap(t *testing.T) {
	data := []byte(bomb(10))
	if len(data) > 700 {
		t.Fatalf("bomb is %d bytes, want a small one", len(data))
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := Check("bomb.yaml", data, Limits{}); !errors.Is(err, ErrAliasBudget) {
			t.Fatalf("Check = %v", err)
		}
	})
	if allocs > 5000 {
		t.Errorf("Check allocated %.0f times for a %d-byte bomb; it should not expand aliases", allocs, len(data))
	}
}

func BenchmarkCheck(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		sb.WriteString("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: &l {app: web, tier: front}\nspec:\n  selector:\n    matchLabels: *l\n  template:\n    metadata:\n      labels: *l\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports: [{containerPort: 80}]\n")
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := Check("big.yaml", data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
