package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ReviewHistory is what kubewright posted on a pull request before: its
// reviews (newest last) and the threads its inline comments started.
type ReviewHistory struct {
	Reviews []PriorReview
	Threads []PriorThread
}

// PriorReview is one of kubewright's earlier reviews.
type PriorReview struct {
	ID        int64  // REST id
	NodeID    string // GraphQL id, for MinimizeComments
	Head      string // the commit it reviewed
	Minimized bool
}

// PriorThread is a review thread started by one of kubewright's inline
// comments.
type PriorThread struct {
	ID        string // GraphQL id, for ResolveThreads
	CommentID int64  // the first comment's REST id
	NodeID    string // its GraphQL id, for MinimizeComments
	Key       string // the ReviewComment.Key it was posted with
	Path      string
	Line      int // 0 when outdated
	Resolved  bool
	Outdated  bool // a push changed its lines
	Minimized bool
}

// ForHead returns kubewright's review of head, if there is one.
func (h *ReviewHistory) ForHead(head string) (PriorReview, bool) {
	for _, r := range h.Reviews {
		if r.Head == head {
			return r, true
		}
	}
	return PriorReview{}, false
}

const historyQuery = `query KubewrightReviewHistory($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviews(last: 50) {
        nodes { id databaseId body isMinimized author { __typename login } commit { oid } }
      }
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line
          comments(first: 1) { nodes { id databaseId body isMinimized author { __typename login } } }
        }
      }
    }
  }
}`

type gqlAuthor struct {
	Typename string `json:"__typename"`
	Login    string `json:"login"`
}

type historyData struct {
	Repository struct {
		PullRequest struct {
			Reviews struct {
				Nodes []struct {
					ID          string    `json:"id"`
					DatabaseID  int64     `json:"databaseId"`
					Body        string    `json:"body"`
					IsMinimized bool      `json:"isMinimized"`
					Author      gqlAuthor `json:"author"`
					Commit      struct {
						OID string `json:"oid"`
					} `json:"commit"`
				} `json:"nodes"`
			} `json:"reviews"`
			ReviewThreads struct {
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
				Nodes []struct {
					ID         string `json:"id"`
					IsResolved bool   `json:"isResolved"`
					IsOutdated bool   `json:"isOutdated"`
					Path       string `json:"path"`
					Line       int    `json:"line"`
					Comments   struct {
						Nodes []struct {
							ID          string    `json:"id"`
							DatabaseID  int64     `json:"databaseId"`
							Body        string    `json:"body"`
							IsMinimized bool      `json:"isMinimized"`
							Author      gqlAuthor `json:"author"`
						} `json:"nodes"`
					} `json:"comments"`
				} `json:"nodes"`
			} `json:"reviewThreads"`
		} `json:"pullRequest"`
	} `json:"repository"`
}

// History reads what kubewright posted on the pull request before, in
// one GraphQL request per 100 threads: only GraphQL tells threads,
// resolution and outdatedness apart.
func (p *Publisher) History(ctx context.Context, t Thread) (*ReviewHistory, error) {
	out := &ReviewHistory{}
	vars := map[string]any{"owner": t.Owner, "name": t.Name, "number": t.Number}
	for page := 0; page < maxReviewPages; page++ {
		var d historyData
		if err := p.graphql(ctx, historyQuery, vars, &d); err != nil {
			return nil, fmt.Errorf("read kubewright's earlier reviews of %s/%s#%d: %w", t.Owner, t.Name, t.Number, err)
		}
		pr := d.Repository.PullRequest
		if page == 0 {
			for _, r := range pr.Reviews.Nodes {
				if head := markerOf(r.Body, "review"); head != "" && p.oursGQL(r.Author) {
					out.Reviews = append(out.Reviews, PriorReview{ID: r.DatabaseID, NodeID: r.ID, Head: r.Commit.OID, Minimized: r.IsMinimized})
				}
			}
		}
		for _, th := range pr.ReviewThreads.Nodes {
			if len(th.Comments.Nodes) == 0 {
				continue
			}
			c := th.Comments.Nodes[0]
			if !p.oursGQL(c.Author) || !strings.Contains(c.Body, markerPrefix+"finding ") {
				continue
			}
			out.Threads = append(out.Threads, PriorThread{
				ID: th.ID, CommentID: c.DatabaseID, NodeID: c.ID, Key: markerOf(c.Body, "finding"),
				Path: th.Path, Line: th.Line, Resolved: th.IsResolved, Outdated: th.IsOutdated, Minimized: c.IsMinimized,
			})
		}
		if !pr.ReviewThreads.PageInfo.HasNextPage {
			break
		}
		vars["after"] = pr.ReviewThreads.PageInfo.EndCursor
	}
	return out, nil
}

// oursGQL tells whether a GraphQL author is kubewright. GraphQL names a
// bot without the "[bot]" of its REST login.
func (p *Publisher) oursGQL(a gqlAuthor) bool {
	if a.Typename != "Bot" {
		return false
	}
	return p.bot == "" || strings.EqualFold(a.Login, strings.TrimSuffix(p.bot, "[bot]"))
}

// maxMutations bounds the mutations sent in one GraphQL request.
const maxMutations = 50

// ResolveThreads resolves review threads (PriorThread.ID), up to 50 per
// GraphQL request.
func (p *Publisher) ResolveThreads(ctx context.Context, r Repo, threadIDs ...string) error {
	err := p.mutateEach(ctx, "KubewrightResolveThreads", "resolveReviewThread(input: {threadId: $id%d}) { thread { isResolved } }", threadIDs)
	if err != nil {
		return fmt.Errorf("resolve review threads of %s/%s: %w", r.Owner, r.Name, err)
	}
	return nil
}

// MinimizeOutdated hides comments or reviews (PriorThread.NodeID,
// PriorReview.NodeID) as outdated, up to 50 per GraphQL request.
func (p *Publisher) MinimizeOutdated(ctx context.Context, r Repo, nodeIDs ...string) error {
	err := p.mutateEach(ctx, "KubewrightMinimizeOutdated", "minimizeComment(input: {subjectId: $id%d, classifier: OUTDATED}) { minimizedComment { isMinimized } }", nodeIDs)
	if err != nil {
		return fmt.Errorf("minimize outdated comments of %s/%s: %w", r.Owner, r.Name, err)
	}
	return nil
}

// mutateEach sends the mutation field once per id, aliased m0, m1, ...,
// in batches of maxMutations per request; field is a format taking the
// id's index.
func (p *Publisher) mutateEach(ctx context.Context, op, field string, ids []string) error {
	for start := 0; start < len(ids); start += maxMutations {
		batch := ids[start:min(start+maxMutations, len(ids))]
		var decls, fields []string
		vars := map[string]any{}
		for i, id := range batch {
			decls = append(decls, fmt.Sprintf("$id%d: ID!", i))
			fields = append(fields, fmt.Sprintf("m%d: "+field, i, i))
			vars[fmt.Sprintf("id%d", i)] = id
		}
		q := fmt.Sprintf("mutation %s(%s) {\n  %s\n}", op, strings.Join(decls, ", "), strings.Join(fields, "\n  "))
		if err := p.graphql(ctx, q, vars, nil); err != nil {
			return err
		}
	}
	return nil
}

// graphqlURL is GitHub's GraphQL endpoint for the REST base URL of the
// client: {host}/api/graphql on GitHub Enterprise Server ({host}/api/v3/),
// api.github.com/graphql on GitHub.com.
func (p *Publisher) graphqlURL() (string, error) {
	u, err := url.Parse(p.gh.BaseURL())
	if err != nil {
		return "", fmt.Errorf("the GitHub client's base URL: %w", err)
	}
	if base, ok := strings.CutSuffix(u.Path, "/api/v3/"); ok {
		u.Path = base + "/api/graphql"
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/graphql"
	}
	return u.String(), nil
}

// graphql sends one GraphQL request through the installation's client
// (its authentication, timeout and rate-limit handling) and decodes data
// into out (when not nil). Errors in the answer are errors.
func (p *Publisher) graphql(ctx context.Context, query string, vars map[string]any, out any) error {
	endpoint, err := p.graphqlURL()
	if err != nil {
		return err
	}
	req, err := p.gh.NewRequest(ctx, http.MethodPost, endpoint, map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	var ans struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if _, err := p.gh.Do(req, &ans); err != nil {
		return err
	}
	if len(ans.Errors) > 0 {
		var msgs []string
		for _, e := range ans.Errors {
			msgs = append(msgs, strings.TrimSpace(e.Type+" "+e.Message))
		}
		return errors.New("GraphQL: " + strings.Join(msgs, "; "))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(ans.Data, out); err != nil {
		return fmt.Errorf("GraphQL answer: %w", err)
	}
	return nil
}
