package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// contentHash is a bundle's identity (issue 16): the SHA-256, in hex, of
// what OPA loaded from it, so "which policy decided" has an exact answer
// even when the manifest's revision is not maintained. It covers every
// Rego file (tests included) byte for byte under its path in the bundle,
// the data tree and the manifest as canonical JSON (sorted keys), in path
// order: the same files give the same hash whatever order the directory
// or archive lists them in, and a directory and the tarball `opa build`
// makes of it hash the same. Formatting-only changes to data.json or
// .manifest do not change it; any change to a value does. Held data
// (Options.Hold) enters as the SHA-256 of its bytes under its data path,
// so there formatting counts too: it is never decoded to a canonical form.
func contentHash(b *opabundle.Bundle, held []HeldFile) (string, error) {
	type entry struct {
		path string
		raw  []byte
	}
	entries := make([]entry, 0, len(b.Modules)+2)
	for _, m := range b.Modules {
		// The directory loader names files "/a.rego", the tarball loader "a.rego".
		entries = append(entries, entry{strings.TrimPrefix(m.RelativePath, "/"), m.Raw})
	}
	data, err := canonicalJSON(b.Data) // map keys sorted: json.Marshal's bytes
	if err != nil {
		return "", fmt.Errorf("hash data: %w", err)
	}
	manifest, err := json.Marshal(b.Manifest)
	if err != nil {
		return "", fmt.Errorf("hash manifest: %w", err)
	}
	// "\x00" sorts before any path, so these two cannot collide with a module.
	entries = append(entries, entry{"\x00data", data}, entry{"\x00manifest", manifest})
	for _, f := range held {
		entries = append(entries, entry{"\x00held/" + strings.Join(f.Path, "/"), f.Sum[:]})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	h := sha256.New()
	for _, e := range entries {
		writeEntry(h, e.path, e.raw)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeEntry writes path and content length-prefixed, so no two different
// sets of files produce the same stream.
func writeEntry(h hash.Hash, path string, raw []byte) {
	fmt.Fprintf(h, "%d:%s%d:", len(path), path, len(raw))
	h.Write(raw)
}
