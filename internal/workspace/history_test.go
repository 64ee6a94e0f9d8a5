package workspace

import (
	"context"
	"errors"
	"testing"
)

// LastChange finds the newest commit that touched the paths in the
// fetched history and its parent, and says when the history is too
// short to tell.
func TestLastChange(t *testing.T) {
	src, repo, commit := testRepo(t)
	commit(map[string]string{"k8s/order/deployment.yaml": "v1\n", "k8s/user/deployment.yaml": "v1\n"})
	c2 := commit(map[string]string{"k8s/order/deployment.yaml": "v2\n"})
	c3 := commit(map[string]string{"k8s/order/deployment.yaml": "v3\n"})
	c4 := commit(map[string]string{"k8s/user/deployment.yaml": "v2\n", "README.md": "x\n"})
	branch := "master"
	if h, err := repo.Head(); err == nil {
		branch = h.Name().Short()
	}

	tests := []struct {
		name           string
		history        int
		paths          []string
		commit, parent string
		err            error
	}{
		{name: "directory", history: 10, paths: []string{"k8s/order"}, commit: c3, parent: c2},
		{name: "file", history: 10, paths: []string{"k8s/order/deployment.yaml"}, commit: c3, parent: c2},
		{name: "the newest of several paths", history: 10, paths: []string{"k8s/order", "k8s/user"}, commit: c4, parent: c3},
		{name: "beyond the fetched history", history: 1, paths: []string{"k8s/order"}, err: ErrHistoryTooShort},
		{name: "parent beyond the fetched history", history: 2, paths: []string{"k8s/order"}, err: ErrHistoryTooShort},
		{name: "never changed", history: 10, paths: []string{"k8s/payment"}, err: ErrHistoryTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := Clone(context.Background(), "file://"+src, "", branch, CloneOptions{Root: t.TempDir(), History: tt.history})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			commit, parent, err := ws.LastChange(context.Background(), tt.paths)
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %s %s %v, want %v", commit, parent, err, tt.err)
				}
			case err != nil || commit != tt.commit || parent != tt.parent:
				t.Fatalf("got %s %s %v, want %s %s", commit, parent, err, tt.commit, tt.parent)
			}
		})
	}
	// A file path is found as its directory is; no paths is an error.
	ws, err := Clone(context.Background(), "file://"+src, "", branch, CloneOptions{Root: t.TempDir(), History: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if got, _, err := ws.LastChange(context.Background(), []string{"k8s/order/deployment.yaml"}); err != nil || got != c3 {
		t.Fatalf("order: %s %v", got, err)
	}
	if _, _, err := ws.LastChange(context.Background(), nil); err == nil {
		t.Fatal("no paths: no error")
	}
}
