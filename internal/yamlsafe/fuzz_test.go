package yamlsafe

import (
	"errors"
	"testing"
)

// FuzzCheck feeds arbitrary bytes to Check: it must return (never panic,
// never hang), and any refusal must be an *Error naming the file.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: ConfigMap\n",
		bomb(10),
		"a: &a [1, *a]\n",
		"a: &a {b: *a}\n",
		"x: &x {a: 1}\ny:\n  <<: *x\n",
		"---\n---\n- [a, {b: c}]\n",
		"a: !!binary aGk=\n",
		"[[[[[[[[[[[[[[[[[[",
		"a: 'unterminated",
		"&a *a",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check("f.yaml", data, Limits{MaxBytes: 1 << 16, MaxNodes: 10_000})
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.File != "f.yaml" {
			t.Fatalf("Check error %#v is not an *Error naming the file", err)
		}
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrAliasBudget) && !errors.Is(err, ErrSyntax) {
			t.Fatalf("Check error %v has no known reason", err)
		}
	})
}
