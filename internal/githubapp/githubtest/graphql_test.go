package githubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v88/github"
)

// gqlAnswer is a GraphQL answer.
type gqlAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// graphql posts a query with variables and decodes the answer into data
// (when not nil).
func graphql(t *testing.T, s *Server, token, query string, vars map[string]any, data any) gqlAnswer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans gqlAnswer
	if resp.StatusCode != http.StatusOK {
		return gqlAnswer{Errors: []gqlError{{Type: resp.Status}}}
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	if data != nil && len(ans.Data) > 0 {
		if err := json.Unmarshal(ans.Data, data); err != nil {
			t.Fatalf("decode %s: %v", ans.Data, err)
		}
	}
	return ans
}

const threadsQuery = `query Threads($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 1, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line
          comments(first: 10) { nodes { id databaseId body isMinimized minimizedReason author { __typename login } } }
        }
      }
    }
  }
}`

type threadsData struct {
	Repository struct {
		PullRequest struct {
			ReviewThreads struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Nodes []struct {
					ID         string
					IsResolved bool
					IsOutdated bool
					Path       string
					Line       *int
					Comments   struct {
						Nodes []struct {
							ID, Body        string
							DatabaseID      int64
							IsMinimized     bool
							MinimizedReason *string
							Author          struct {
								Typename string `json:"__typename"`
								Login    string
							}
						}
					}
				}
			}
		}
	}
}

// TestGraphQLReviewThreads: the threads of a pull request, paged, with
// their comments' database ids; resolving a thread and minimizing a
// comment as outdated show in the next query; an outdated thread says so.
func TestGraphQLReviewThreads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.MintToken(testInst)
	gh := ghClient(t, f.Server, tok)
	n := reviewPull(t, f, tok)
	if _, _, err := gh.PullRequests.CreateReview(ctx, testOwner, testRepo, n, &github.PullRequestReviewRequest{
		Event: github.Ptr("COMMENT"), Comments: []*github.DraftReviewComment{comment("k8s/app.yaml", 3, "first"), comment("k8s/app.yaml", 9, "second")},
	}); err != nil {
		t.Fatal(err)
	}
	rest, _, err := gh.PullRequests.ListComments(ctx, testOwner, testRepo, n, nil)
	if err != nil {
		t.Fatal(err)
	}

	vars := map[string]any{"owner": testOwner, "name": testRepo, "number": n}
	var p1, p2 threadsData
	if ans := graphql(t, f.Server, tok, threadsQuery, vars, &p1); len(ans.Errors) > 0 {
		t.Fatalf("errors: %+v", ans.Errors)
	}
	th := p1.Repository.PullRequest.ReviewThreads
	if th.TotalCount != 2 || len(th.Nodes) != 1 || !th.PageInfo.HasNextPage {
		t.Fatalf("first page = %+v", th)
	}
	vars["after"] = th.PageInfo.EndCursor
	graphql(t, f.Server, tok, threadsQuery, vars, &p2)
	first, second := th.Nodes[0], p2.Repository.PullRequest.ReviewThreads.Nodes[0]
	if p2.Repository.PullRequest.ReviewThreads.PageInfo.HasNextPage || second.Comments.Nodes[0].Body != "second" {
		t.Fatalf("second page = %+v", p2.Repository.PullRequest.ReviewThreads)
	}
	c := first.Comments.Nodes[0]
	if c.DatabaseID != rest[0].GetID() || c.Author.Typename != "Bot" || c.Author.Login != "kubewright" || first.Line == nil || *first.Line != 3 || first.IsResolved {
		t.Errorf("first thread = %+v", first)
	}

	const resolve = `mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }`
	var resolved struct {
		ResolveReviewThread struct{ Thread struct{ IsResolved bool } }
	}
	if ans := graphql(t, f.Server, tok, resolve, map[string]any{"id": first.ID}, &resolved); len(ans.Errors) > 0 || !resolved.ResolveReviewThread.Thread.IsResolved {
		t.Fatalf("resolve: %+v %+v", resolved, ans.Errors)
	}
	const minimize = `mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) {
  minimizedComment { isMinimized minimizedReason ... on PullRequestReviewComment { databaseId } } } }`
	var minimized struct {
		MinimizeComment struct {
			MinimizedComment struct {
				IsMinimized     bool
				MinimizedReason string
				DatabaseID      int64
			}
		}
	}
	graphql(t, f.Server, tok, minimize, map[string]any{"id": second.Comments.Nodes[0].ID}, &minimized)
	if m := minimized.MinimizeComment.MinimizedComment; !m.IsMinimized || m.MinimizedReason != "outdated" || m.DatabaseID != rest[1].GetID() {
		t.Errorf("minimized = %+v", m)
	}
	// An issue comment and a review are minimizable too.
	issueComment := f.AddComment(testOwner, testRepo, n, "kubewright[bot]", "old summary")
	rv := f.Reviews(testOwner, testRepo, n)[0]
	for _, id := range []string{"IC_" + strconv.FormatInt(issueComment, 10), "PRR_" + strconv.FormatInt(rv.ID, 10)} {
		if ans := graphql(t, f.Server, tok, minimize, map[string]any{"id": id}, nil); len(ans.Errors) > 0 {
			t.Errorf("minimize %s: %+v", id, ans.Errors)
		}
	}
	if got := f.Reviews(testOwner, testRepo, n)[0].Minimized; got != "outdated" {
		t.Errorf("review minimized as %q", got)
	}

	// A push that changes line 9 outdates the second thread.
	pushFiles(t, f.Server, tok, testOwner, testRepo, "feature", map[string]string{"k8s/app.yaml": appYAML(map[int]string{9: "nine"})})
	delete(vars, "after")
	var all threadsData
	graphql(t, f.Server, tok, strings.Replace(threadsQuery, "first: 1,", "first: 10,", 1), vars, &all)
	nodes := all.Repository.PullRequest.ReviewThreads.Nodes
	if len(nodes) != 2 || !nodes[0].IsResolved || nodes[0].IsOutdated || !nodes[1].IsOutdated || nodes[1].Line != nil ||
		!nodes[1].Comments.Nodes[0].IsMinimized {
		t.Errorf("threads after the push = %+v", nodes)
	}
}

// TestGraphQLConformance: a query the schema refuses (unknown field,
// wrong argument or variable type, unknown enum value) fails the test that
// sent it, and so does a field the fake does not serve; GitHub's own
// errors (not found, missing page size) are answers, not failures.
func TestGraphQLConformance(t *testing.T) {
	var mu sync.Mutex
	var reported []string
	f := newFixture(t, WithReporter(func(op string, err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, op+": "+err.Error())
	}))
	tok := f.MintToken(testInst)
	n := reviewPull(t, f, tok)
	vars := map[string]any{"owner": testOwner, "name": testRepo, "number": n}
	tests := []struct {
		name, query string
		vars        map[string]any
		report      string // "" when the request conforms
		answer      string // in the answer's errors
	}{
		{"unknown field", `query($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) { pullRequest(number: $number) { reviewThreads(first: 5) { nodes { id bogus } } } } }`,
			vars, `Cannot query field "bogus" on type "PullRequestReviewThread"`, "bogus"},
		{"literal of the wrong type", `{ repository(owner: "acme", name: "shop") { pullRequest(number: "1") { id } } }`,
			nil, "Int", "Int"},
		{"variable of the wrong type", `query($owner: String!, $name: String!, $number: String!) { repository(owner: $owner, name: $name) { pullRequest(number: $number) { id } } }`,
			vars, `Variable "$number" of type "String!" used in position expecting type "Int!"`, "number"},
		{"variable value of the wrong type", `query($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) { pullRequest(number: $number) { id } } }`,
			map[string]any{"owner": testOwner, "name": testRepo, "number": "one"}, "number", "number"},
		{"number as a string", `query($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) { pullRequest(number: $number) { id } } }`,
			map[string]any{"owner": testOwner, "name": testRepo, "number": "1"}, "$number: 1 is not a Int", "Variable $number of type Int!"},
		{"input field of the wrong type", `mutation($in: MinimizeCommentInput!) { minimizeComment(input: $in) { clientMutationId } }`,
			map[string]any{"in": map[string]any{"subjectId": "IC_1", "classifier": "OUTDATED", "clientMutationId": 7}}, "$in.clientMutationId: 7 is not a String", "clientMutationId"},
		{"unknown enum value", `mutation { minimizeComment(input: {subjectId: "IC_1", classifier: STALE}) { clientMutationId } }`,
			nil, "STALE", "STALE"},
		{"field the fake does not serve", `{ repository(owner: "acme", name: "shop") { pullRequest(number: 1) { mergeable } } }`,
			nil, "PullRequest.mergeable: not served by githubtest", "not served"},
		{"repository of another account", `{ repository(owner: "globex", name: "shop") { id } }`,
			nil, "", "Could not resolve to a Repository with the name 'globex/shop'."},
		{"connection without a page size", `{ repository(owner: "acme", name: "shop") { pullRequest(number: 1) { reviewThreads { totalCount } } } }`,
			nil, "", "You must provide a `first` or `last` value"},
		{"unknown thread", `mutation { resolveReviewThread(input: {threadId: "PRRT_999"}) { thread { id } } }`,
			nil, "", "Could not resolve to PullRequestReviewThread"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			reported = nil
			mu.Unlock()
			ans := graphql(t, f.Server, tok, tt.query, tt.vars, nil)
			msgs, _ := json.Marshal(ans.Errors)
			if !strings.Contains(string(msgs), tt.answer) {
				t.Errorf("answer errors %s, want one saying %q", msgs, tt.answer)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tt.report == "" && len(reported) > 0:
				t.Errorf("a conformant request was reported: %v", reported)
			case tt.report != "" && (len(reported) != 1 || !strings.Contains(reported[0], tt.report)):
				t.Errorf("reported %v, want one report saying %q", reported, tt.report)
			}
		})
	}
	if ans := graphql(t, f.Server, "", `{ repository(owner: "acme", name: "shop") { id } }`, nil, nil); len(ans.Errors) != 1 || ans.Errors[0].Type != "401 Unauthorized" {
		t.Errorf("no token: %+v", ans.Errors)
	}
	f.FailNext(http.MethodPost, "/graphql", http.StatusBadGateway, nil)
	const q = `{ repository(owner: "acme", name: "shop") { id } }`
	if ans := graphql(t, f.Server, tok, q, nil, nil); len(ans.Errors) != 1 || ans.Errors[0].Type != "502 Bad Gateway" {
		t.Errorf("during the fault: %+v", ans.Errors)
	}
	if ans := graphql(t, f.Server, tok, q, nil, nil); len(ans.Errors) != 0 {
		t.Errorf("after the fault: %+v", ans.Errors)
	}
}
