package command

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
			d := editDistance(word, cand)
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

// editDistance is the optimal string alignment distance between a and b
// over runes: insertions, deletions, substitutions and swaps of adjacent
// runes each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
