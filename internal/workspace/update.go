package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// ErrBranchMoved is returned by Update when the branch moved on the
// remote since it was cloned: someone pushed meanwhile.
var ErrBranchMoved = errors.New("the branch moved since kubewright cloned it")

// Update pushes the commits made on the cloned branch itself to origin,
// as a fast-forward only: it is how kubewright adds a commit to someone
// else's branch (a pull request's), so it never overwrites what others
// pushed. The caller decides that the branch may receive commits.
func (w *Workspace) Update(ctx context.Context) error {
	if w.base == "" {
		return ErrProtectedBranch
	}
	ref := plumbing.NewBranchReferenceName(w.base)
	err := w.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin", Auth: w.auth,
		RefSpecs: []config.RefSpec{config.RefSpec(ref.String() + ":" + ref.String())},
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, git.ErrNonFastForwardUpdate):
		return fmt.Errorf("push %s: %w", w.base, ErrBranchMoved)
	}
	return fmt.Errorf("push %s: %w", w.base, scrub(err, w.password()))
}
