// Package graph wires a stream's plugins into a directed acyclic graph from
// their manifests: every plugin topic a plugin consumes must be produced by
// another plugin of the same stream, and no plugin may depend on itself
// through the topics it consumes (a cycle would let messages circulate
// forever and no segment could ever settle).
package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lsie-mlf/lsie/sdk/topic"
)

// Node is one plugin of a stream as its manifest describes it.
type Node struct {
	Name    string
	Inputs  []string
	Outputs []string
}

// Problem is one wiring error, attributed to the plugin it concerns so the
// caller can point at that plugin's config block.
type Problem struct {
	Plugin  string
	Message string
}

// Problems are every wiring error found; Error renders one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = fmt.Sprintf("plugin %q: %s", p.Plugin, p.Message)
	}
	return strings.Join(lines, "\n")
}

// Graph is a stream's validated wiring.
type Graph struct {
	// Order lists the plugins so that every producer comes before its
	// consumers (stable with respect to the config order otherwise).
	Order []string
	// Consumers maps a producer and one of its output topics to the plugins
	// that consume it, in Order.
	Consumers map[string]map[string][]string
	// Subscriptions are each plugin's consumed plugin topics (not host topics).
	Subscriptions map[string][]topic.Topic
}

// ConsumersOf returns the plugins that consume producer's topic t.
func (g *Graph) ConsumersOf(producer, t string) []string { return g.Consumers[producer][t] }

// Build checks and wires nodes (in config order). It reports every problem
// it finds rather than the first one.
func Build(nodes []Node) (*Graph, error) {
	var probs Problems
	producers := map[string][]string{} // topic → plugins, in config order
	for _, n := range nodes {
		for _, out := range n.Outputs {
			t, err := topic.Parse(out)
			if err != nil {
				probs = append(probs, Problem{n.Name, "manifest output: " + err.Error()})
				continue
			}
			if t.Host() {
				probs = append(probs, Problem{n.Name, fmt.Sprintf("manifest output %q is a host topic; plugins publish versioned topics such as %q", out, t.Name+".result@1")})
				continue
			}
			producers[t.String()] = append(producers[t.String()], n.Name)
		}
	}
	g := &Graph{Consumers: map[string]map[string][]string{}, Subscriptions: map[string][]topic.Topic{}}
	deps := map[string][]string{} // consumer → producers it depends on
	for _, n := range nodes {
		for _, in := range n.Inputs {
			t, err := topic.Parse(in)
			if err != nil {
				probs = append(probs, Problem{n.Name, "manifest input: " + err.Error()})
				continue
			}
			if t.Host() {
				continue
			}
			ps := producers[t.String()]
			if len(ps) == 0 {
				probs = append(probs, Problem{n.Name, missingProducer(t, nodes)})
				continue
			}
			g.Subscriptions[n.Name] = append(g.Subscriptions[n.Name], t)
			for _, p := range ps {
				if g.Consumers[p] == nil {
					g.Consumers[p] = map[string][]string{}
				}
				g.Consumers[p][t.String()] = append(g.Consumers[p][t.String()], n.Name)
				if !slices.Contains(deps[n.Name], p) {
					deps[n.Name] = append(deps[n.Name], p)
				}
			}
		}
	}
	order, cycle := topoSort(nodes, deps)
	if cycle != nil {
		probs = append(probs, Problem{cycle[0], "plugins form a cycle through the topics they consume: " + strings.Join(cycle, " → ") +
			"; a plugin may not consume, directly or through others, what it produces"})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	g.Order = order
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
	}
	for _, byTopic := range g.Consumers {
		for _, cs := range byTopic {
			slices.SortStableFunc(cs, func(a, b string) int { return rank[a] - rank[b] })
		}
	}
	return g, nil
}

// missingProducer explains a consumed topic nobody produces, naming a
// producer of another major version when there is one (the usual mistake).
func missingProducer(t topic.Topic, nodes []Node) string {
	msg := fmt.Sprintf("consumes %q but no plugin of this stream produces it", t.String())
	var near []string
	for _, n := range nodes {
		for _, out := range n.Outputs {
			if o, err := topic.Parse(out); err == nil && o.Name == t.Name {
				near = append(near, fmt.Sprintf("%s produces %s", n.Name, o))
			}
		}
	}
	if len(near) > 0 {
		return msg + " (" + strings.Join(near, ", ") + ": another major version)"
	}
	return msg + "; add the plugin that produces it to the stream"
}

// topoSort orders nodes so producers precede consumers, keeping config
// order among independent plugins; on a cycle it returns the cycle's path.
func topoSort(nodes []Node, deps map[string][]string) ([]string, []string) {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var order, stack []string
	var cycle []string
	var visit func(string) bool
	visit = func(n string) bool {
		switch state[n] {
		case done:
			return true
		case active:
			i := slices.Index(stack, n)
			cycle = append(slices.Clone(stack[i:]), n)
			return false
		}
		state[n] = active
		stack = append(stack, n)
		for _, d := range deps[n] {
			if !visit(d) {
				return false
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		order = append(order, n)
		return true
	}
	for _, n := range nodes {
		if !visit(n.Name) {
			// Report the cycle starting at its producer side as written.
			slices.Reverse(cycle)
			return nil, cycle
		}
	}
	return order, nil
}
