package githubapp

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/request"
)

// The filter keeps exactly what internal/job acts on, with the prefix and
// trigger label the job is configured with, and turns it into the typed
// request the job runs.
func TestFilterRequest(t *testing.T) {
	user := &github.User{Login: github.Ptr("octocat"), ID: github.Ptr(int64(583231)), Type: github.Ptr("User")}
	repo := &github.Repository{Name: github.Ptr("shop"), Owner: &github.User{Login: github.Ptr("acme")}, DefaultBranch: github.Ptr("main")}
	bot := &github.User{Login: github.Ptr("kubewright[bot]"), Type: github.Ptr("Bot")}
	botByName := &github.User{Login: github.Ptr("renovate[bot]")}
	comment := func(action, body string, by *github.User) *github.IssueCommentEvent {
		return &github.IssueCommentEvent{Action: github.Ptr(action), Repo: repo, Issue: &github.Issue{Number: github.Ptr(7)},
			Comment: &github.IssueComment{ID: github.Ptr(int64(99)), Body: github.Ptr(body), User: by}}
	}
	issue := func(action, label string, labels []string, by *github.User) *github.IssuesEvent {
		e := &github.IssuesEvent{Action: github.Ptr(action), Repo: repo, Issue: &github.Issue{Number: github.Ptr(7)}, Sender: by}
		if label != "" {
			e.Label = &github.Label{Name: github.Ptr(label)}
		}
		for _, l := range labels {
			e.Issue.Labels = append(e.Issue.Labels, &github.Label{Name: github.Ptr(l)})
		}
		return e
	}
	pull := func(action, state string, by *github.User) *github.PullRequestEvent {
		return &github.PullRequestEvent{Action: github.Ptr(action), Number: github.Ptr(7), Repo: repo, Sender: by,
			PullRequest: &github.PullRequest{Number: github.Ptr(7), State: github.Ptr(state)}}
	}
	merged := func(branch string) *github.PullRequestEvent {
		e := pull("closed", "closed", user)
		named := *repo
		named.FullName = github.Ptr("acme/shop")
		e.Repo = &named
		e.PullRequest.Merged = github.Ptr(true)
		e.PullRequest.MergedAt = &github.Timestamp{Time: time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)}
		e.PullRequest.Head = &github.PullRequestBranch{Ref: github.Ptr(branch), Repo: &github.Repository{FullName: github.Ptr("acme/shop")}}
		return e
	}
	custom := filter{prefix: "/bot", label: "deploy-me"}
	tests := []struct {
		name    string
		filter  filter
		payload any
		want    string // what the request holds: "command:NAME", "intent:TEXT", "reply", or "" for none
		why     string // substring of the reason when there is no request
	}{
		{"command", defaultFilter(), comment("created", "/ai containerize", user), "command:containerize", ""},
		{"help gets a reply, so it is kept", defaultFilter(), comment("created", "please\n/ai help", user), "reply", ""},
		{"unknown command gets did-you-mean, so it is kept", defaultFilter(), comment("created", "/ai contanerize", user), "reply", ""},
		{"free text is kept", defaultFilter(), comment("created", "/ai add a redis cache", user), "intent:add a redis cache", ""},
		{"prefix in a code block is no command", defaultFilter(), comment("created", "```\n/ai containerize\n```", user), "", "no /ai command"},
		{"plain chat", defaultFilter(), comment("created", "LGTM", user), "", "no /ai command"},
		{"someone else's prefix", defaultFilter(), comment("created", "/aix containerize", user), "", "no /ai command"},
		{"edited", defaultFilter(), comment("edited", "/ai containerize", user), "", "action edited"},
		{"no action", defaultFilter(), comment("", "/ai containerize", user), "", "no action"},
		{"bot by type", defaultFilter(), comment("created", "/ai containerize", bot), "", "bot"},
		{"bot by name", defaultFilter(), comment("created", "/ai containerize", botByName), "", "bot"},
		{"configured prefix", custom, comment("created", "/bot plan", user), "command:plan", ""},
		{"default prefix under a configured one", custom, comment("created", "/ai plan", user), "", "no /bot command"},

		{"issue opened with the label", defaultFilter(), issue("opened", "", []string{"bug", "kubewright"}, user), "command:containerize", ""},
		{"issue opened without it", defaultFilter(), issue("opened", "", []string{"bug"}, user), "", "trigger label kubewright"},
		{"issue given the label", defaultFilter(), issue("labeled", "kubewright", []string{"kubewright"}, user), "command:containerize", ""},
		{"issue given another label while it has ours", defaultFilter(), issue("labeled", "bug", []string{"kubewright", "bug"}, user), "", "trigger label"},
		{"issue labeled by a bot", defaultFilter(), issue("labeled", "kubewright", nil, bot), "", "bot"},
		{"issue closed", defaultFilter(), issue("closed", "", []string{"kubewright"}, user), "", "action closed"},
		{"configured label", custom, issue("labeled", "deploy-me", nil, user), "command:containerize", ""},
		{"labels disabled", filter{prefix: "/ai"}, issue("labeled", "kubewright", nil, user), "", "no trigger label"},

		{"pull request opened", defaultFilter(), pull("opened", "open", bot), "command:review", ""},
		{"pull request pushed to", defaultFilter(), pull("synchronize", "open", user), "command:review", ""},
		{"pull request ready", defaultFilter(), pull("ready_for_review", "open", user), "command:review", ""},
		{"pull request labeled", defaultFilter(), pull("labeled", "open", user), "", "action labeled"},
		{"pull request closed", defaultFilter(), pull("closed", "closed", user), "", "pull request closed without a merge"},
		{"kubewright's operation merged", defaultFilter(), merged("kubewright/scale-cart-12"), "merged:kubewright/scale-cart-12 at 2026-12-07T16:00:00Z", ""},
		{"another branch merged", defaultFilter(), merged("feature/cart"), "", "not a kubewright operation's"},
		{"pull request edited", defaultFilter(), pull("edited", "open", user), "", "action edited"},
		{"review comment", defaultFilter(), &github.PullRequestReviewCommentEvent{Action: github.Ptr("created")}, "", "not handled"},
		{"installation", defaultFilter(), &github.InstallationEvent{Action: github.Ptr("created")}, "", "not handled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, why := tc.filter.request("d-1", "issue_comment", 1, tc.payload)
			got := ""
			switch {
			case why != "":
			case req.Trigger == request.Merged:
				got = "merged:" + req.Head + " at " + req.MergedAt.Format(time.RFC3339)
			case req.Command != nil:
				got = "command:" + string(req.Command.Name)
			case req.Intent != "":
				got = "intent:" + req.Intent
			case req.Reply != nil:
				got = "reply"
			}
			if got != tc.want || !strings.Contains(why, tc.why) || (got == "") == (why == "") {
				t.Fatalf("request = %q %q, want %q %q", got, why, tc.want, tc.why)
			}
			if why != "" {
				return
			}
			if err := req.Validate(); err != nil {
				t.Fatal(err)
			}
			if req.Subject() != "acme/shop#7" || req.Actor.Login == "" || req.Repo.DefaultBranch != "main" {
				t.Errorf("request = %+v", req)
			}
		})
	}
}

func TestRelevantEvent(t *testing.T) {
	for event, want := range map[string]bool{
		"issue_comment": true, "issues": true, "ping": true,
		"pull_request": true, "pull_request_review_comment": false, "installation": false,
		"installation_repositories": false, "push": false, "": false,
	} {
		if got := relevantEvent(event); got != want {
			t.Errorf("relevantEvent(%q) = %v, want %v", event, got, want)
		}
	}
}

// The options reach the filter: a handler configured like the job drops
// what that job would drop.
func TestFilterOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want filter
	}{
		{"defaults", nil, filter{prefix: "/ai", label: "kubewright"}},
		{"configured", []Option{WithCommandPrefix("/bot"), WithTriggerLabel("deploy-me")}, filter{prefix: "/bot", label: "deploy-me"}},
		{"empty prefix keeps the default, empty label disables", []Option{WithCommandPrefix(""), WithTriggerLabel("")}, filter{prefix: "/ai"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewWebhookHandler([]byte(testSecret), &fakeSink{}, tc.opts...).(*handler)
			if h.filter != tc.want {
				t.Errorf("filter = %+v, want %+v", h.filter, tc.want)
			}
		})
	}
}
