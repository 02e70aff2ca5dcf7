package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
)

var keysCmd = &command{
	name:     "keys",
	args:     "SUBCOMMAND [flags]",
	synopsis: "manage API keys of consumers in bundle data",
	example:  "portcullis keys new --consumer partner --groups read-access",
	exits:    []exitCode{{0, "help"}, {2, "no or an unknown subcommand"}},
	subs:     []*command{keysNewCmd},
}

var keysNewCmd = &command{
	name:     "keys new",
	args:     "--consumer NAME [--groups a,b] [--id ID] [--expires T] [--not-before T] [--data FILE [--path P]] [--json]",
	synopsis: "generate an API key: print it once with its record (its hash only), or merge the record into a bundle's data.json",
	example:  "portcullis keys new --consumer partner --groups read-access --expires 2160h --data bundles/portcullis/data.json",
	exits: []exitCode{
		{0, "the key is printed (and merged into --data)"},
		{1, "--data could not be read or written, already holds the consumer or key id, or would not load"},
		exitUsage,
	},
	flags: func(fs *flag.FlagSet) runner {
		var o keysNewOptions
		fs.StringVar(&o.consumer, "consumer", "", "consumer name (required)")
		fs.StringVar(&o.groups, "groups", "", "comma-separated groups")
		fs.StringVar(&o.id, "id", "", "key id (default: CONSUMER-YYYY-MM-DD)")
		fs.StringVar(&o.expires, "expires", "", "expires_at: an RFC 3339 time (2026-10-01T00:00:00Z) or a duration from now (2160h)")
		fs.StringVar(&o.notBefore, "not-before", "", "not_before: an RFC 3339 time or a duration from now (24h)")
		fs.StringVar(&o.data, "data", "", "merge the record into this bundle data file (the key is never written)")
		fs.StringVar(&o.path, "path", "portcullis.consumers", "the consumers' data path in --data (authn api_key data_path)")
		fs.BoolVar(&o.json, "json", false, `print {"key": "...", "record": {...}} as JSON`)
		return func(_ []string, stdout, stderr io.Writer) int {
			return cmdKeysNew(fs, o, time.Now(), stdout, stderr)
		}
	},
}

type keysNewOptions struct {
	consumer, groups, id string
	expires, notBefore   string
	data, path           string
	json                 bool
}

// consumerRecord is one consumer in bundle data, in the field order of
// apikey.NewIndex's documentation.
type consumerRecord struct {
	Groups []string    `json:"groups"`
	Keys   []keyRecord `json:"keys"`
}

type keyRecord struct {
	ID        string `json:"id"`
	Hash      string `json:"hash"`
	NotBefore string `json:"not_before,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

func cmdKeysNew(fs *flag.FlagSet, o keysNewOptions, now time.Time, stdout, stderr io.Writer) int {
	if o.consumer == "" {
		return usageErr(stderr, fs, "--consumer is required")
	}
	if slices.Contains(strings.Split(o.path, "."), "") {
		return usageErr(stderr, fs, "--path %q: want dot-separated names such as portcullis.consumers", o.path)
	}
	if o.id == "" {
		o.id = o.consumer + "-" + now.UTC().Format("2006-01-02")
	}
	var notBefore, expires time.Time
	var err error
	if notBefore, err = parseWhen(o.notBefore, now); err != nil {
		return usageErr(stderr, fs, "--not-before: %v", err)
	}
	if expires, err = parseWhen(o.expires, now); err != nil {
		return usageErr(stderr, fs, "--expires: %v", err)
	}
	if !expires.IsZero() && !expires.After(now) {
		return usageErr(stderr, fs, "--expires %s is not in the future", expires.Format(time.RFC3339))
	}
	if !expires.IsZero() && !notBefore.IsZero() && !expires.After(notBefore) {
		return usageErr(stderr, fs, "--expires is not after --not-before")
	}
	key, _, err := apikey.Generate(o.consumer, nil, o.id)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis keys new: %v\n", err)
		return 1
	}
	rec := consumerRecord{Groups: splitList(o.groups), Keys: []keyRecord{{ID: o.id, Hash: apikey.Hash(key)}}}
	if rec.Groups == nil {
		rec.Groups = []string{}
	}
	if !notBefore.IsZero() {
		rec.Keys[0].NotBefore = notBefore.Format(time.RFC3339)
	}
	if !expires.IsZero() {
		rec.Keys[0].ExpiresAt = expires.Format(time.RFC3339)
	}
	record := map[string]consumerRecord{o.consumer: rec}
	if err := validateRecord(record); err != nil {
		fmt.Fprintf(stderr, "portcullis keys new: %v\n", err)
		return 1
	}
	if o.data != "" {
		if err := mergeConsumer(o.data, o.path, o.consumer, rec); err != nil {
			fmt.Fprintf(stderr, "portcullis keys new: %v\n", err)
			return 1
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(map[string]any{"key": key, "record": record})
		return 0
	}
	fmt.Fprintf(stdout, "API key (shown once, store it now): %s\n\n", key)
	if o.data != "" {
		fmt.Fprintf(stdout, "Added consumer %q (key id %q) to %s under %s; the gateway serves it once the bundle reloads.\n", o.consumer, o.id, o.data, o.path)
		return 0
	}
	fmt.Fprintf(stdout, "Add this consumer to your bundle data (e.g. data.json under %s), or rerun with --data FILE:\n%s\n",
		o.path, renderMember(nil, o.consumer, rec, "", "  "))
	return 0
}

// parseWhen reads an RFC 3339 time or a duration from now; "" is the zero time.
// Times are kept to the second, in UTC.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Truncate(time.Second), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-10-01T00:00:00Z) nor a duration (720h)", s)
}

// validateRecord checks record with the parser the gateway uses.
func validateRecord(record map[string]consumerRecord) error {
	b, err := json.Marshal(record)
	if err != nil {
		return err
	}
	var data any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return err
	}
	_, err = apikey.NewIndex(data)
	return err
}

// marshalIndent is json.MarshalIndent without HTML escaping.
func marshalIndent(v any, prefix, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
