package agent

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/rules"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/prompts"
)

// BenchmarkPromptTokens reports, for the polyglot fixture, the prompt size
// of each agent's first call starting from the deterministic draft versus
// asking it to author everything from scratch, and the completion each
// needs: the changed file, or every file. Tokens are estimated as bytes/4
// (no tokenizer is vendored); `make bench` prints them.
func BenchmarkPromptTokens(b *testing.B) {
	root, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "repos", "polyglot-shop"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	model, err := analyze.New().Analyze(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	dr, err := rules.New().Author(ctx, model, author.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st, err := draft.NewStage(root)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := draft.Apply(st.Dir(), dr.Files, draft.ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	all := 0
	for _, f := range dr.Files {
		all += len(f.Content)
	}
	intents := map[string]string{
		AgentContainer:  "switch every image to distroless",
		AgentDeployment: "put order-service behind Redis",
		AgentGitops:     "add a staging overlay with one replica per service",
	}
	for agentName, intent := range intents {
		b.Run(agentName, func(b *testing.B) {
			for b.Loop() {
				r := &redactor{}
				g := &gate{}
				score := relevance(intent, agentName, model.Services)
				d := prompts.Data{Intent: intent, Model: modelJSON(model, r), Conventions: conventions(model, tree{st.Dir()}, ""), Allowed: allowed(g)}
				scratch := d
				scratch.Files, _ = pick(sourceFiles(tree{st.Dir()}, model, false, r), score, filesBytes)
				d.Files = scratch.Files
				d.Draft, _ = pick(draftFiles(tree{st.Dir()}, dr, r), score, draftBytes)
				sys, user, err := prompts.Render(agentName, d)
				if err != nil {
					b.Fatal(err)
				}
				ssys, suser, err := prompts.Render(agentName, scratch)
				if err != nil {
					b.Fatal(err)
				}
				// With the draft, the answer replaces the few files the
				// intent touches: measured as the largest draft file shown.
				largest := 0
				for _, f := range d.Draft {
					largest = max(largest, len(f.Content))
				}
				b.ReportMetric(float64(len(sys)+len(user))/4, "prompt-tok/draft")
				b.ReportMetric(float64(len(ssys)+len(suser))/4, "prompt-tok/scratch")
				b.ReportMetric(float64(largest)/4, "completion-tok/draft")
				b.ReportMetric(float64(all)/4, "completion-tok/scratch")
			}
		})
	}
}
