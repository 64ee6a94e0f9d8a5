// Package githubtest is a fake GitHub for tests: the REST endpoints the bot
// calls, the GraphQL it needs for pull request reviews, and git over smart
// HTTP, on 127.0.0.1, backed by real bare repositories and held to GitHub's
// OpenAPI description and GraphQL schema.
//
// URL layout (GitHub Enterprise Server's, so one base URL serves all):
//
//	{URL}/api/v3/...            REST; go-github: github.WithEnterpriseURLs(URL, URL)
//	{URL}/api/graphql           GraphQL (POST)
//	{URL}/{owner}/{repo}.git/   git smart HTTP (git http-backend through CGI)
//
// ghinstallation's BaseURL is {URL}/api/v3. The bot's KUBEWRIGHT_GITHUB_URL
// is {URL}.
//
// Every request to a REST route and every response the fake sends is
// validated against GitHub's OpenAPI description (npm @octokit/openapi,
// installed by `make test-assets`); a mismatch fails the test that started the
// server, naming the operation id. Every GraphQL request is parsed and
// validated against GitHub's published schema (npm @octokit/graphql-schema),
// variables included: an unknown field or a wrong argument type fails the
// test that sent it, and so does a field of the schema the fake does not
// serve. The fake's GraphQL answers are checked against the declared types.
//
// Pull request reviews follow GitHub's rules: inline comments only on lines
// of the pull request's diff (merge base to head); when the head moves,
// comments on lines the push changed become outdated and the others move
// with their lines.
//
// Authentication follows GitHub's: the App JWT (RS256, iss = App ID, not
// expired) buys an installation token at
// POST /app/installations/{id}/access_tokens; repository and organization
// routes and git need that token (git as the password of user
// x-access-token), and the installation's account must own the repository.
package githubtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/routers"
	"github.com/vektah/gqlparser/v2/ast"
)

// App is the GitHub App whose JWTs the fake accepts.
type App struct {
	ID        int64
	Slug      string // the bot user is Slug + "[bot]"; default kubewright
	PublicKey *rsa.PublicKey
}

// Option configures a Server.
type Option func(*Server)

// WithApp sets the App whose JWTs may create installation tokens. Without it
// the token endpoint refuses every JWT and tests mint tokens with MintToken.
func WithApp(app App) Option {
	return func(s *Server) {
		s.app = app
	}
}

// WithReporter replaces how conformance failures are reported (default:
// t.Errorf on the test that started the server). Tests of the fake use it to
// observe a failure without failing.
func WithReporter(report func(operationID string, err error)) Option {
	return func(s *Server) { s.conf.report = report }
}

// WithResponseHook lets a test rewrite a REST response body after the fake
// built it and before it is validated and sent, e.g. to prove that a
// non-conformant body is caught. Production-shaped tests do not need it.
func WithResponseHook(hook func(operationID string, status int, body []byte) []byte) Option {
	return func(s *Server) { s.hook = hook }
}

// Server is a running fake GitHub. Its seeding and inspection methods are
// safe for concurrent use; accessors return copies.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port, no trailing slash.
	URL string

	t       testing.TB
	app     App
	conf    *conformance
	schema  *ast.Schema
	hook    func(operationID string, status int, body []byte) []byte
	git     *gitHost
	handler http.Handler
	oauth   *oauthFlow // the user sign-in flow (oauth.go)

	mu            sync.Mutex
	nextID        int64
	installations map[int64]string // id -> account login
	tokens        map[string]token
	repos         map[string]*repo // "owner/name"
	teams         map[string]map[string]string
	faults        []fault
}

type token struct {
	installation int64
	account      string
	expires      time.Time
}

type repo struct {
	id            int64
	owner, name   string
	defaultBranch string
	created       time.Time
	perms         map[string]string
	issues        map[int]bool
	issueText     map[int]IssueText // issues' titles and bodies (not pull requests')
	nextNumber    int
	comments      []*Comment
	reactions     []Reaction
	pulls         []*Pull
	checkRuns     []*CheckRun
	reviews       []*Review
	reviewComs    []*ReviewComment
	fork          bool // made by AddFork
}

// Comment is an issue or pull request conversation comment.
type Comment struct {
	ID        int64
	Issue     int
	User      string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Minimized string // the classifier it was minimized with, "" if not
}

// Reaction is a reaction to an issue comment.
type Reaction struct {
	ID        int64
	CommentID int64
	User      string
	Content   string
}

// Pull is a pull request. Head and Base are branch names in the same
// repository, or Head is a branch of the fork HeadOwner/{repo} (AddFork);
// HeadSHA is the head branch's commit when last read.
type Pull struct {
	ID        int64
	Number    int
	User      string
	HeadOwner string // "" for a branch of the repository itself
	Head      string
	HeadSHA   string
	Base      string
	Title     string
	Body      string
	Draft     bool
	State     string // open or closed
	CreatedAt time.Time
	UpdatedAt time.Time
	ClosedAt  time.Time
}

// CheckRun is a check run with its latest output.
type CheckRun struct {
	ID               int64
	Name             string
	HeadSHA          string
	Status           string
	Conclusion       string
	Title            string
	Summary          string
	Text             string
	AnnotationsCount int
	Annotations      []Annotation
	DetailsURL       string
	ExternalID       string
	StartedAt        time.Time
	CompletedAt      time.Time
}

// New starts a fake GitHub on 127.0.0.1; it is closed when the test ends.
// It loads GitHub's OpenAPI description (once per test binary) and fails the
// test if it is missing: run `make test-assets`.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t:             t,
		nextID:        1000,
		installations: map[int64]string{},
		tokens:        map[string]token{},
		repos:         map[string]*repo{},
		teams:         map[string]map[string]string{},
	}
	s.conf = &conformance{
		doc:       loadSpec(t),
		requests:  map[string]int{},
		responses: map[string]int{},
		report: func(op string, err error) {
			t.Errorf("githubtest: %s does not conform to GitHub's OpenAPI description: %v", op, err)
		},
	}
	s.schema = loadSchema(t)
	for _, o := range opts {
		o(s)
	}
	if s.app.Slug == "" {
		s.app.Slug = "kubewright"
	}
	g, err := newGitHost(t.TempDir())
	if err != nil {
		t.Fatalf("githubtest: %v", err)
	}
	s.git = g
	mux, err := s.restMux()
	if err != nil {
		t.Fatalf("githubtest: %v", err)
	}
	s.handler = s.withManifestFlow(s.withOAuth(mux))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// APIURL is the REST base URL with its trailing slash ({URL}/api/v3/).
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// CloneURL is the HTTPS-style clone URL of a repository.
func (s *Server) CloneURL(owner, name string) string {
	return s.URL + "/" + owner + "/" + name + ".git"
}

// ServeHTTP routes git smart HTTP to git http-backend and the rest to the
// REST routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if owner, name, ok := gitPath(r.URL.Path); ok {
		if f, ok := s.takeFault(r.Method, r.URL.Path, ""); ok {
			writeJSON(w, f.reply())
			return
		}
		s.serveGit(w, r, owner, name)
		return
	}
	if r.URL.Path == graphqlPath {
		s.serveGraphQL(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// ValidatedRequests counts, per operation id, the requests checked against
// GitHub's OpenAPI description.
func (s *Server) ValidatedRequests() map[string]int { return s.conf.snapshot(s.conf.requests) }

// ValidatedResponses counts, per operation id, the responses checked against
// GitHub's OpenAPI description.
func (s *Server) ValidatedResponses() map[string]int { return s.conf.snapshot(s.conf.responses) }

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// AddInstallation installs the App on an account (user or organization);
// tokens of the installation reach that account's repositories and teams.
func (s *Server) AddInstallation(id int64, account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations[id] = account
}

// MintToken creates an installation token without the JWT exchange, for
// tests that are not about App authentication.
func (s *Server) MintToken(installationID int64) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	account, ok := s.installations[installationID]
	if !ok {
		s.t.Fatalf("githubtest: MintToken: installation %d is unknown; call AddInstallation first", installationID)
	}
	return s.newTokenLocked(installationID, account).value
}

type minted struct {
	value   string
	expires time.Time
}

func (s *Server) newTokenLocked(installation int64, account string) minted {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 36)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	m := minted{value: "ghs_" + string(b), expires: time.Now().Add(time.Hour).Truncate(time.Second)}
	s.tokens[m.value] = token{installation: installation, account: account, expires: m.expires}
	return m
}

// tokenAccount returns the account a valid, unexpired installation token
// belongs to.
func (s *Server) tokenAccount(value string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[value]
	if !ok || time.Now().After(tok.expires) {
		return "", false
	}
	return tok.account, true
}

// AddRepo creates owner/name as a bare repository whose default branch main
// holds one commit with the files of dir (dir may be empty: "" means no
// files).
func (s *Server) AddRepo(owner, name, dir string) {
	s.t.Helper()
	if err := s.git.create(owner, name, dir); err != nil {
		s.t.Fatalf("githubtest: AddRepo %s/%s: %v", owner, name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[owner+"/"+name] = &repo{
		id: s.id(), owner: owner, name: name, defaultBranch: "main",
		created: time.Now().UTC().Truncate(time.Second),
		perms:   map[string]string{}, issues: map[int]bool{}, issueText: map[int]IssueText{}, nextNumber: 1,
	}
}

// mustRepo returns a seeded repository or fails the test: seeding an unknown
// repository is a mistake in the test.
func (s *Server) mustRepoLocked(owner, name string) *repo {
	s.t.Helper()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		s.t.Fatalf("githubtest: repository %s/%s is unknown; call AddRepo first", owner, name)
	}
	return rp
}

// SetPermission gives user a role on the repository: admin, maintain,
// write, triage or read.
func (s *Server) SetPermission(owner, name, user, role string) {
	s.t.Helper()
	switch role {
	case "admin", "maintain", "write", "triage", "read":
	default:
		s.t.Fatalf("githubtest: SetPermission: role %q is not one of admin, maintain, write, triage, read", role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepoLocked(owner, name).perms[user] = role
}

// SetTeamMember makes user an active member (role member or maintainer) of
// org's team.
func (s *Server) SetTeamMember(org, team, user, role string) {
	s.t.Helper()
	if role != "member" && role != "maintainer" {
		s.t.Fatalf("githubtest: SetTeamMember: role %q is not member or maintainer", role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := org + "/" + team
	if s.teams[key] == nil {
		s.teams[key] = map[string]string{}
	}
	s.teams[key][user] = role
}

// AddIssue opens an issue and returns its number (issues and pull requests
// share numbers, as on GitHub).
func (s *Server) AddIssue(owner, name string) int {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(owner, name)
	n := rp.nextNumber
	rp.nextNumber++
	rp.issues[n] = true
	rp.issueText[n] = IssueText{Title: fmt.Sprintf("Issue %d", n), User: rp.owner, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	return n
}

// IssueText is what GET /repos/{owner}/{repo}/issues/{issue_number} reports
// of an issue: its title, body and author.
type IssueText struct {
	Title     string
	Body      string
	User      string
	CreatedAt time.Time
}

// SetIssue sets the title and body of an issue AddIssue opened (the title
// defaults to "Issue N", the body to none).
func (s *Server) SetIssue(owner, name string, issue int, title, body string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(owner, name)
	it, ok := rp.issueText[issue]
	if !ok {
		s.t.Fatalf("githubtest: SetIssue: %s/%s has no issue #%d (pull requests keep their own title and body)", owner, name, issue)
	}
	it.Title, it.Body = title, body
	rp.issueText[issue] = it
}

// AddComment posts a comment as user on issue (or pull request) number and
// returns its id.
func (s *Server) AddComment(owner, name string, issue int, user, body string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(owner, name)
	if !rp.issues[issue] {
		s.t.Fatalf("githubtest: AddComment: %s/%s has no issue #%d", owner, name, issue)
	}
	now := time.Now().UTC().Truncate(time.Second)
	c := &Comment{ID: s.id(), Issue: issue, User: user, Body: body, CreatedAt: now, UpdatedAt: now}
	rp.comments = append(rp.comments, c)
	return c.ID
}

// Issues returns the repository's issue and pull request numbers, ascending.
func (s *Server) Issues(owner, name string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	out := make([]int, 0, len(rp.issues))
	for n := range rp.issues {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// Comments returns copies of the repository's comments in creation order.
func (s *Server) Comments(owner, name string) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	out := make([]Comment, len(rp.comments))
	for i, c := range rp.comments {
		out[i] = *c
	}
	return out
}

// Reactions returns the repository's comment reactions in creation order.
func (s *Server) Reactions(owner, name string) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	return append([]Reaction(nil), rp.reactions...)
}

// Pulls returns copies of the repository's pull requests by number.
func (s *Server) Pulls(owner, name string) []Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	out := make([]Pull, len(rp.pulls))
	for i, p := range rp.pulls {
		out[i] = *p
	}
	return out
}

// CheckRuns returns copies of the repository's check runs in creation order.
func (s *Server) CheckRuns(owner, name string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	out := make([]CheckRun, len(rp.checkRuns))
	for i, c := range rp.checkRuns {
		out[i] = *c
		out[i].Annotations = append([]Annotation(nil), c.Annotations...)
	}
	return out
}

// Heads returns the repository's branches and their commits, read from the
// bare repository (nil for an unknown repository).
func (s *Server) Heads(owner, name string) map[string]string {
	s.t.Helper()
	s.mu.Lock()
	_, known := s.repos[owner+"/"+name]
	s.mu.Unlock()
	if !known {
		return nil
	}
	heads, err := s.git.heads(owner, name)
	if err != nil {
		s.t.Fatalf("githubtest: Heads %s/%s: %v", owner, name, err)
	}
	return heads
}

// reportf sends a conformance failure to the reporter.
func (s *Server) reportf(op string, format string, args ...any) {
	s.conf.report(op, fmt.Errorf(format, args...))
}

// validate runs the response check and reports a mismatch.
func (s *Server) validateResponse(ctx context.Context, rt *routers.Route, r *http.Request, params map[string]string, status int, header http.Header, body []byte) {
	if err := s.conf.checkResponse(ctx, rt, r, params, status, header, body); err != nil {
		s.reportf(rt.Operation.OperationID, "response %d to %s %s: %v", status, r.Method, r.URL.Path, err)
	}
}
