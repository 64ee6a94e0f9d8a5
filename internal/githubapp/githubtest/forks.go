package githubtest

import (
	"fmt"
	"time"
)

// PullSpec is a pull request a person opens, for AddPull.
type PullSpec struct {
	User string // the author; default octocat
	// Head is the head branch: of the repository itself, or of the fork
	// HeadOwner/{repo} made with AddFork.
	Head      string
	HeadOwner string
	Base      string // default: the repository's default branch
	Title     string // default: "Pull request N"
	Body      string
	Draft     bool
}

// AddPull opens a pull request as spec.User (the bot opens its own through
// the REST API) and returns its number. A pull request from a fork gets its
// head commits in the base repository as refs/pull/N/head, as on GitHub, and
// follows the fork's branch when it is pushed.
func (s *Server) AddPull(owner, name string, spec PullSpec) int {
	s.t.Helper()
	if spec.User == "" {
		spec.User = "octocat"
	}
	s.mu.Lock()
	rp := s.mustRepoLocked(owner, name)
	if spec.Base == "" {
		spec.Base = rp.defaultBranch
	}
	if spec.HeadOwner != "" {
		if fork := s.repos[spec.HeadOwner+"/"+name]; fork == nil || !fork.fork {
			s.mu.Unlock()
			s.t.Fatalf("githubtest: AddPull: %s/%s is not a fork; call AddFork(%q, %q, %q) first", spec.HeadOwner, name, owner, name, spec.HeadOwner)
		}
	}
	n := rp.nextNumber
	rp.nextNumber++
	rp.issues[n] = true
	s.mu.Unlock()

	headSHA, err := s.pullHead(owner, name, spec.HeadOwner, spec.Head, n)
	if err != nil {
		s.t.Fatalf("githubtest: AddPull: %v", err)
	}
	baseHeads, err := s.git.heads(owner, name)
	if err != nil || baseHeads[spec.Base] == "" {
		s.t.Fatalf("githubtest: AddPull: base branch %q of %s/%s does not exist (%v)", spec.Base, owner, name, err)
	}
	if spec.Title == "" {
		spec.Title = fmt.Sprintf("Pull request %d", n)
	}
	t := time.Now().UTC().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp.pulls = append(rp.pulls, &Pull{
		ID: s.id(), Number: n, User: spec.User, HeadOwner: spec.HeadOwner, Head: spec.Head, HeadSHA: headSHA,
		Base: spec.Base, Title: spec.Title, Body: spec.Body, Draft: spec.Draft, State: "open", CreatedAt: t, UpdatedAt: t,
	})
	return n
}

// pullHead reads the head branch's commit; for a fork's branch it fetches
// the commits into the base repository as refs/pull/{n}/head first.
func (s *Server) pullHead(owner, name, headOwner, head string, n int) (string, error) {
	if headOwner == "" {
		heads, err := s.git.heads(owner, name)
		if err != nil {
			return "", err
		}
		sha, ok := heads[head]
		if !ok {
			return "", fmt.Errorf("head branch %q of %s/%s does not exist", head, owner, name)
		}
		return sha, nil
	}
	heads, err := s.git.heads(headOwner, name)
	if err != nil {
		return "", err
	}
	sha, ok := heads[head]
	if !ok {
		return "", fmt.Errorf("head branch %q of the fork %s/%s does not exist", head, headOwner, name)
	}
	if s.git.hasCommit(owner, name, sha) {
		return sha, nil
	}
	base, err := s.git.existing(owner, name)
	if err != nil {
		return "", err
	}
	fork, err := s.git.existing(headOwner, name)
	if err != nil {
		return "", err
	}
	ref := fmt.Sprintf("+refs/heads/%s:refs/pull/%d/head", head, n)
	if _, err := s.git.run(base, nil, "fetch", "--quiet", "--no-tags", fork, ref); err != nil {
		return "", err
	}
	return sha, nil
}

// AddFork makes forkOwner/name a fork of owner/name: a copy of its branches
// that pull requests can come from (PullSpec.HeadOwner). Install the App on
// forkOwner (AddInstallation) to push to it as a contributor would.
func (s *Server) AddFork(owner, name, forkOwner string) {
	s.t.Helper()
	src, err := s.git.existing(owner, name)
	if err != nil {
		s.t.Fatalf("githubtest: AddFork: %v", err)
	}
	dst, err := s.git.dir(forkOwner, name)
	if err != nil {
		s.t.Fatalf("githubtest: AddFork: %v", err)
	}
	if _, err := s.git.run("", nil, "clone", "--quiet", "--bare", src, dst); err != nil {
		s.t.Fatalf("githubtest: AddFork: %v", err)
	}
	if _, err := s.git.run(dst, nil, "config", "http.receivepack", "true"); err != nil {
		s.t.Fatalf("githubtest: AddFork: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.mustRepoLocked(owner, name)
	s.repos[forkOwner+"/"+name] = &repo{
		id: s.id(), owner: forkOwner, name: name, defaultBranch: parent.defaultBranch, fork: true,
		created: time.Now().UTC().Truncate(time.Second),
		perms:   map[string]string{}, issues: map[int]bool{}, issueText: map[int]IssueText{}, nextNumber: 1,
	}
}

// refreshRepo records the current commit of each pull request's head, as
// GitHub does when a branch is pushed, and moves the review comments of
// the pull requests whose head moved (outdating those a push changed).
func (s *Server) refreshRepo(owner, name string) {
	type head struct {
		p                 *Pull
		number            int
		headOwner, branch string
		old, base, newSHA string
	}
	s.mu.Lock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		s.mu.Unlock()
		return
	}
	var pulls []head
	for _, p := range rp.pulls {
		pulls = append(pulls, head{p: p, number: p.Number, headOwner: p.HeadOwner, branch: p.Head, old: p.HeadSHA, base: p.Base})
	}
	s.mu.Unlock()

	heads, err := s.git.heads(owner, name)
	if err != nil {
		return
	}
	var moved []head
	for _, h := range pulls {
		sha, ok := heads[h.branch]
		if h.headOwner != "" {
			sha, err = s.pullHead(owner, name, h.headOwner, h.branch, h.number)
			ok = err == nil
		}
		if !ok || sha == h.old {
			continue // a deleted head branch keeps the last commit, as on GitHub
		}
		h.newSHA = sha
		moved = append(moved, h)
	}
	for _, h := range moved {
		s.mu.Lock()
		h.p.HeadSHA = h.newSHA
		var coms []ReviewComment
		for _, c := range rp.reviewComs {
			if c.Pull == h.number && !c.Outdated && c.CommitID != h.newSHA {
				coms = append(coms, *c)
			}
		}
		s.mu.Unlock()
		s.moveComments(rp, h.base, h.newSHA, coms)
	}
}

// moveComments re-anchors copies of review comments at commit head and
// stores the result: a comment on lines the push changed, or no longer in
// the pull request's diff, becomes outdated (no line, no position).
func (s *Server) moveComments(rp *repo, base, head string, coms []ReviewComment) {
	if len(coms) == 0 {
		return
	}
	diff, err := s.git.prDiff(rp.owner, rp.name, base, head)
	if err != nil {
		return
	}
	for i := range coms {
		c := &coms[i]
		start := c.StartLine
		if start == 0 {
			start = c.Line
		}
		ns, ne, outdated := start, c.Line, false
		if c.Side == "RIGHT" {
			var err error
			if ns, ne, outdated, err = s.git.moveLines(rp.owner, rp.name, c.CommitID, head, c.Path, start, c.Line); err != nil {
				continue
			}
		}
		if !outdated {
			outdated = true
			for _, f := range diff {
				if f.path != c.Path {
					continue
				}
				a, okEnd := f.locate(c.Side, ne)
				b, okStart := f.locate(c.startSide(), ns)
				if okEnd && okStart && a.hunk == b.hunk {
					outdated = false
					c.Line, c.Position, c.DiffHunk = ne, a.position, f.diffHunk(a)
					if c.StartLine != 0 {
						c.StartLine = ns
					}
				}
			}
		}
		if outdated {
			c.Outdated, c.Line, c.StartLine, c.Position = true, 0, 0, 0
		} else {
			c.CommitID = head
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, moved := range coms {
		for _, c := range rp.reviewComs {
			if c.ID == moved.ID && !c.Outdated {
				// Only the anchor moves: edits, resolutions and minimizing
				// made meanwhile stay.
				c.CommitID, c.Line, c.StartLine, c.Position, c.DiffHunk, c.Outdated =
					moved.CommitID, moved.Line, moved.StartLine, moved.Position, moved.DiffHunk, moved.Outdated
			}
		}
	}
}
