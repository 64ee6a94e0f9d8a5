package command

import "github.com/kubewright/kubewright/internal/textdist"

// suggest returns the command word most probably meant, or "" when
// nothing is close. A name (or alias) is close when its edit distance
// (Damerau-Levenshtein, adjacent transpositions counting one) is at most
// 2 and smaller than the word itself, or when word and name share a
// prefix of at least 4 letters ("cont" -> containerize, "planning" ->
// plan). The closest distance wins, then the longer shared prefix, then
// the table order. Aliases suggest their command.
func suggest(table []Spec, word string) Name {
	const maxWord = 64 // longer words are not typos of ours
	if word == "" || len(word) > maxWord {
		return ""
	}
	var (
		best     Name
		bestDist = -1
		bestPref = -1
	)
	for _, s := range table {
		for _, cand := range append([]string{string(s.Name)}, s.Aliases...) {
			d := textdist.Distance(word, cand)
			pref := commonPrefix(word, cand)
			near := d <= 2 && d < len([]rune(word)) || pref >= 4
			if !near {
				continue
			}
			if bestDist < 0 || d < bestDist || d == bestDist && pref > bestPref {
				best, bestDist, bestPref = s.Name, d, pref
			}
		}
	}
	return best
}

// commonPrefix counts the leading runes a and b share.
func commonPrefix(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	n := 0
	for n < len(ra) && n < len(rb) && ra[n] == rb[n] {
		n++
	}
	return n
}
