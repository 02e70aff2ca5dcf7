package migrate

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// migrationReport is MIGRATION.md: the outcome, every input item with what
// it became, and the files written. It never contains a credential: the
// importers put none into the report.
func migrationReport(p *Plan, files []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Migration report: %s → Portcullis\n\n", p.Source)
	fmt.Fprintf(&b, "Input: %s.\n\n", strings.Join(baseNames(p.Files), ", "))
	// In the order of the input: file by file as given, line by line.
	items := slices.Clone(p.Report)
	slices.SortStableFunc(items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(slices.Index(p.Files, a.File), slices.Index(p.Files, b.File)), cmp.Compare(a.Line, b.Line))
	})
	count := map[Outcome]int{}
	for _, it := range items {
		count[it.Outcome]++
	}
	if p.Report.Complete() {
		b.WriteString("**Complete**: every input item has a Portcullis equivalent. ")
	} else {
		fmt.Fprintf(&b, "**Incomplete**: %d input item(s) did not map (exit status 3); they are marked *not mapped* below. ", count[NotMapped])
	}
	fmt.Fprintf(&b, "%d mapped, %d mapped with a difference in behaviour, %d not mapped.\n\n", count[Mapped], count[Partial], count[NotMapped])
	b.WriteString("Run `portcullis check --config portcullis.yaml` and `opa test bundles/` (or `portcullis test`) before serving it; ")
	b.WriteString("the API keys of the input are stored only as SHA-256 hashes in `bundles/imported/data.json`.\n\n")
	for _, sec := range []struct {
		o     Outcome
		title string
	}{
		{NotMapped, "Not mapped"},
		{Partial, "Behaviour differences"},
		{Mapped, "Mapped"},
	} {
		if count[sec.o] == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n| Input | Item | Became / why |\n|---|---|---|\n", sec.title)
		for _, it := range items {
			if it.Outcome != sec.o {
				continue
			}
			where := filepath.Base(it.File)
			if it.Line > 0 {
				where = fmt.Sprintf("%s:%d", where, it.Line)
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", where, cell(it.What), cell(it.Detail))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Files written\n\n")
	for _, f := range files {
		fmt.Fprintf(&b, "- `%s`\n", f)
	}
	b.WriteString("- `MIGRATION.md`\n")
	return b.String()
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
