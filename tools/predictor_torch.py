"""The next-spike transformer of `gillespike predict` (docs/predictor.md) in PyTorch, written from
its definition, not from the C++: test_predictor_torch checks the C++ model's loss and gradients
against it, and tools/bench_predictor.py times it beside the C++ one. Parameters carry the C++
names ("block0.attn.qkv.W", ...) and shapes (biases and gains are 1 x n rows), so weights move
between the two as name -> array."""
import math

import torch
import torch.nn.functional as F


def parameter_shapes(c):
    """Name -> (rows, cols) for a model configuration as a .model file's JSON holds it."""
    V = sum(p["size"] for p in c["populations"])
    D, K, M = c["width"], c["components"], c["mlp_ratio"] * c["width"]
    s = {"token.table": (V, D), "time_in.W": (1 + 2 * c["frequencies"], D), "time_in.b": (1, D)}
    for b in range(c["blocks"]):
        n = f"block{b}"
        s.update({f"{n}.ln1.gain": (1, D), f"{n}.ln1.bias": (1, D),
                  f"{n}.attn.qkv.W": (D, 3 * D), f"{n}.attn.qkv.b": (1, 3 * D),
                  f"{n}.attn.proj.W": (D, D), f"{n}.attn.proj.b": (1, D),
                  f"{n}.ln2.gain": (1, D), f"{n}.ln2.bias": (1, D),
                  f"{n}.fc1.W": (D, M), f"{n}.fc1.b": (1, M), f"{n}.fc2.W": (M, D), f"{n}.fc2.b": (1, D)})
    s.update({"ln_f.gain": (1, D), "ln_f.bias": (1, D), "mark_out.W": (D, V), "mark_out.b": (1, V),
              "time_out.W": (D, 3 * K), "time_out.b": (1, 3 * K)})
    if c["history_basis"] > 0:
        s["history.coef"] = (len(c["populations"]), c["history_basis"])
    return s


class SpikeTransformer:
    def __init__(self, c, params=None):
        """params: name -> tensor; without them, GPT-2's initialisation (N(0, 0.02) weights)."""
        self.c = c
        self.P = {}
        for name, shape in parameter_shapes(c).items():
            if params is not None:
                t = torch.as_tensor(params[name]).reshape(shape).clone()
            elif name.endswith(".gain"):
                t = torch.ones(shape)
            elif name.endswith(".W") or name.endswith(".table"):
                t = torch.randn(shape) * 0.02
            else:
                t = torch.zeros(shape)
            self.P[name] = t.requires_grad_()
        self.pop_of = torch.tensor([i for i, p in enumerate(c["populations"]) for _ in range(p["size"])])

    def parameters(self):
        return list(self.P.values())

    def linear(self, x, name):
        return x @ self.P[name + ".W"] + self.P[name + ".b"][0]

    def norm(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.P[name + ".gain"][0], self.P[name + ".bias"][0], eps=1e-5)

    def features(self, tau):
        c = self.c
        z = (torch.log(tau) - c["log_tau_shift"]) / c["log_tau_scale"]
        cols = [z]
        for k in range(c["frequencies"]):
            cols += [torch.sin(2.0 ** (k - 2) * z), torch.cos(2.0 ** (k - 2) * z)]
        return torch.stack(cols, -1)

    def attention(self, x, name):
        Bt, L, D = x.shape
        H = self.c["heads"]
        q, k, v = self.linear(x, name + ".qkv").split(D, -1)
        q, k, v = (t.reshape(Bt, L, H, D // H).transpose(1, 2) for t in (q, k, v))
        s = q @ k.transpose(-1, -2) / math.sqrt(D // H)
        s = s.masked_fill(torch.triu(torch.ones(L, L, dtype=torch.bool), 1), float("-inf"))
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(Bt, L, D)
        return self.linear(o, name + ".proj")

    def history(self, logits, ids, tau):
        """Adds, for every token k <= i, a piecewise-linear function of log(t_i - t_k) (hats on
        geometric knots, one set of heights per population) to logit [i, ids[k]]."""
        c = self.c
        B = c["history_basis"]
        if B == 0:
            return logits
        Bt, L = ids.shape
        t = torch.cumsum(torch.cat([torch.zeros(Bt, 1, dtype=tau.dtype), tau[:, 1:]], 1), 1)
        age = (t[:, :, None] - t[:, None, :]).clamp(min=c["history_min_ms"])
        x = torch.log(age / c["history_min_ms"]) * (B - 1) / math.log(c["history_max_ms"] / c["history_min_ms"])
        coef = self.P["history.coef"][self.pop_of[ids]]  # Bt x L(k) x B
        g = torch.zeros_like(x)
        for b in range(B):
            g = g + (1 - (x - b).abs()).clamp(min=0) * coef[:, None, :, b]
        g = g * torch.tril(torch.ones(L, L, dtype=x.dtype))
        return logits.scatter_add(2, ids[:, None, :].expand(Bt, L, L), g)

    def heads(self, ids, tau):
        """Windows (Bt x L tokens and the intervals before them) -> neuron logits, mixture parameters."""
        x = self.P["token.table"][ids] + self.linear(self.features(tau), "time_in")
        for b in range(self.c["blocks"]):
            h = x + self.attention(self.norm(x, f"block{b}.ln1"), f"block{b}.attn")
            x = h + self.linear(F.gelu(self.linear(self.norm(h, f"block{b}.ln2"), f"block{b}.fc1")), f"block{b}.fc2")
        h = self.norm(x, "ln_f")
        logits = self.history(self.linear(h, "mark_out"), ids, tau)
        return logits, self.linear(h, "time_out").split(self.c["components"], -1)

    def nll(self, ids, tau, next_ids, next_tau):
        """Summed interval and neuron NLL of the next events, nats (intervals in ms)."""
        c = self.c
        logits, (a, mu, log_sigma) = self.heads(ids, tau)
        mark = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), next_ids.reshape(-1), reduction="sum")
        z = (torch.log(next_tau) - c["log_tau_shift"]) / c["log_tau_scale"]
        log_pz = torch.logsumexp(torch.log_softmax(a, -1) + torch.distributions.Normal(mu, log_sigma.exp()).log_prob(z[..., None]), -1)
        time = (-log_pz + math.log(c["log_tau_scale"]) + torch.log(next_tau)).sum()
        return time, mark

    @torch.no_grad()
    def sample_next(self, ids, tau, generator=None):
        """One draw of (interval ms, neuron) after a single window (1 x L), from its last position."""
        c = self.c
        logits, (a, mu, log_sigma) = self.heads(ids, tau)
        k = torch.multinomial(torch.softmax(a[0, -1], -1), 1, generator=generator)
        z = mu[0, -1, k] + log_sigma[0, -1, k].exp() * torch.randn(1, generator=generator, dtype=mu.dtype)
        interval = math.exp(c["log_tau_shift"] + c["log_tau_scale"] * z.item())
        neuron = torch.multinomial(torch.softmax(logits[0, -1], -1), 1, generator=generator).item()
        return max(interval, c["min_interval_ms"]), neuron
