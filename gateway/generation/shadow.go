package generation

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/policy/engine"
	"github.com/portcullis/portcullis/policy/shadow"
)

// buildShadowEngine compiles policy.shadow's candidate bundles with the
// enforced bundles' rules (decision rule, timeout, size cap, signing,
// require_tests): a candidate that would not be activated refuses the
// generation, as an enforced bundle does. Its evaluations count into no
// metric of the enforced engine.
func (b *builder) buildShadowEngine(ctx context.Context) *engine.Engine {
	s := b.cfg.Policy.Shadow
	if s == nil {
		return nil
	}
	o := EngineOptions(b.cfg, nil, b.opts.Logger.With().Str("policy", "shadow").Logger())
	o.Sources = bundleSources(s.Bundles)
	eng, err := engine.New(ctx, o)
	if err != nil {
		b.fail(fmt.Errorf("policy.shadow: %w", err))
		return nil
	}
	return eng
}

// buildShadow makes the shadow evaluator around eng; it writes its
// divergences to the generation's decision log. Its counts continue from
// the running generation's evaluator when the candidate is the same.
func (b *builder) buildShadow(eng *engine.Engine) {
	s := b.cfg.Policy.Shadow
	if eng == nil || s == nil {
		return
	}
	o := shadow.Options{Engine: eng, Sample: s.Sample, QueueSize: s.QueueSize, Log: b.g.DecisionLog, Registerer: b.opts.Registerer}
	if b.prev != nil {
		o.Previous = b.prev.Shadow
	}
	ev, err := shadow.New(o)
	if err != nil {
		b.fail(fmt.Errorf("policy.shadow: %w", err))
		return
	}
	b.g.Shadow = ev
}

// shadowFiles are the candidate bundles' paths, watched like the enforced ones.
func shadowFiles(cfg *config.Config) []string {
	s := cfg.Policy.Shadow
	if s == nil {
		return nil
	}
	fs := make([]string, len(s.Bundles))
	for i, b := range s.Bundles {
		fs[i] = b.Path
	}
	return fs
}
