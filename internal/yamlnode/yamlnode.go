// Package yamlnode reads yaml.v3 node trees by key path: what the code
// that edits YAML in place (internal/ops, internal/review/fix) needs to
// find a value and its position without decoding into types.
package yamlnode

import yaml "go.yaml.in/yaml/v3"

// Get returns the key and value nodes of key in mapping m, or nils when
// m is not a mapping or has no such key.
func Get(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// At follows a path of mapping keys from n, or returns nil.
func At(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		_, n = Get(n, p)
		if n == nil {
			return nil
		}
	}
	return n
}
