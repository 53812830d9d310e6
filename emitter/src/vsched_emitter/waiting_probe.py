"""The waiting-request prefix-cache probe (step ``probe``), on by default for the head of the
queue, made cheap by remembering each request's last answer (issue 18 §6).

binding_limits needs, for a waiting request, the prefix-cache hit vLLM would give it: with
prefix caching on (vLLM's default) and shared prefixes, assuming none makes requests look
larger than they are. After each schedule() the probe looks up the first N waiting requests
that have nothing computed with the side-effect-free lookup vLLM's own get_computed_blocks
calls (``coordinator.find_longest_cache_hit``: no block taken, no stat counted, no KV event).

A lookup walks the request's block hashes; most waiting requests get the same answer step after
step. So each answer is kept with the blocks it found and their hashes, and reused while
(1) every one of those blocks still holds the hash it had (vLLM clears a block's hash when it
evicts it, and a reused block gets another), (2) the next block hash of the request is still not
cached (nothing extends the hit) and (3) the request's hashes and hit bound are unchanged. The
reuse applies where a hit is a plain prefix of full-attention blocks (one KV cache group of full
attention, no EAGLE block drop); elsewhere every probe is a lookup.
"""
from __future__ import annotations

from itertools import chain
from operator import attrgetter

_HASH = attrgetter("block_hash")
_REF = attrgetter("ref_cnt")


def setup(sched, settings):
    """A WaitingProbe, or None when off, not at level full, prefix caching off, or this vLLM
    has no side-effect-free lookup."""
    n = int(getattr(settings, "waiting_probe", 0) or 0)
    kvm = getattr(sched, "kv_cache_manager", None)
    if n <= 0 or settings.level != "full" or kvm is None or not getattr(kvm, "enable_caching", False):
        return None
    coord = getattr(kvm, "coordinator", None)
    find = getattr(coord, "find_longest_cache_hit", None)
    if find is None:
        return None
    return WaitingProbe(sched, n, kvm, coord, find)


class WaitingProbe:
    def __init__(self, sched, n, kvm, coord, find):
        self.n = n
        self.find = find
        self.lookup_enabled = getattr(kvm, "prefix_cache_lookup_enabled", None)  # vLLM >= 0.34
        self.memo: dict[str, tuple] = {}
        self.has_hit_limit = False  # vLLM >= 0.34: Request.get_max_cache_hit_length
        try:
            from vllm.v1.request import Request
            self.has_hit_limit = hasattr(Request, "get_max_cache_hit_length")
        except Exception:
            pass
        self.reused = 0  # answers taken from the memo (tests)
        self.get_cached = None
        managers = getattr(coord, "single_type_managers", None)
        pool = getattr(kvm, "block_pool", None)
        if (managers is not None and len(managers) == 1 and type(managers[0]).__name__ == "FullAttentionManager"
                and not getattr(coord, "use_eagle", False) and not getattr(managers[0], "use_eagle", False)
                and hasattr(pool, "get_cached_block")):
            ids = getattr(managers[0], "kv_cache_group_id", 0)
            self.group_ids = [ids]
            self.block_size = int(getattr(managers[0], "block_size", 0) or getattr(sched, "block_size", 0) or 0)
            hash_size = getattr(pool, "hash_block_size", None)
            if self.block_size > 0 and hash_size in (None, self.block_size):
                self.get_cached = pool.get_cached_block

    def _max_len(self, r):
        """vLLM's bound on the hit: the prompt but its last token (0.34: the request's own limit)."""
        return hit_limit(r)

    def _lookup(self, r, hashes, max_len):
        found = self.find(hashes, max_len)
        groups, hit = found[0], int(found[1])
        blocks = groups[0] if groups else ()
        return blocks, hit

    def __call__(self, queues, preempt_ids=None):
        """[id, hit tokens, hit blocks now free (evictable)] for the first N waiting requests
        with nothing computed; the memo drops requests no longer at the head."""
        out = []
        n = 0
        memo = self.memo
        seen = {}
        lookup_enabled = self.lookup_enabled
        get_cached = self.get_cached
        for r in chain.from_iterable(queues):
            if n >= self.n:
                break
            n += 1
            if r.num_computed_tokens:
                continue
            if lookup_enabled is not None:
                if not lookup_enabled(r):
                    continue
            elif getattr(r, "skip_reading_prefix_cache", False):
                continue
            rid = r.request_id
            hashes = getattr(r, "block_hashes", None)
            if not hashes:
                out.append([rid, 0, 0])
                continue
            max_len = self._max_len(r)
            m = memo.get(rid)
            blocks = None
            if m is not None and get_cached is not None and not m[3] and m[0] is hashes and m[1] == len(hashes) \
                    and m[2] == max_len and (max_len < self.block_size or get_cached(hashes[0], self.group_ids) is None):
                seen[rid] = m  # still no hit: its first block is still not cached
                self.reused += 1
                out.append([rid, 0, 0])
                continue
            if m is not None and get_cached is not None:
                m_hashes, m_len, m_max, m_blocks, m_snap, m_hit = m
                k = len(m_blocks)
                if (m_hashes is hashes and m_len == len(hashes) and m_max == max_len
                        and list(map(_HASH, m_blocks)) == m_snap
                        and ((k + 1) * self.block_size > max_len or k >= len(hashes)
                             or get_cached(hashes[k], self.group_ids) is None)):
                    blocks, hit = m_blocks, m_hit
                    self.reused += 1
            if blocks is None and get_cached is not None and (
                    max_len < self.block_size or get_cached(hashes[0], self.group_ids) is None):
                blocks, hit = (), 0  # its first block is not cached: a prefix hit of nothing
                m = (hashes, len(hashes), max_len, blocks, [], 0)
            if blocks is None:
                blocks, hit = self._lookup(r, hashes, max_len)
                if get_cached is not None:
                    blocks = tuple(blocks)
                    m = (hashes, len(hashes), max_len, blocks, list(map(_HASH, blocks)), hit)
            seen[rid] = m
            evictable = list(map(_REF, blocks)).count(0) if get_cached is not None else sum(
                1 for b in blocks if b.ref_cnt == 0 and not getattr(b, "is_null", False))
            out.append([rid, hit, evictable])
        if get_cached is not None:
            self.memo = {k: v for k, v in seen.items() if v is not None}
        return out


def hit_limit(r) -> int:
    """The longest prefix-cache hit vLLM allows the request (get_computed_blocks' bound):
    vLLM 0.34's Request.get_max_cache_hit_length() (prefix_cache_hit_limit; 0 = no reads),
    before it all tokens but the last unless skip_reading_prefix_cache."""
    bound = getattr(r, "get_max_cache_hit_length", None)
    if bound is not None:
        return int(bound())
    if getattr(r, "skip_reading_prefix_cache", False):
        return 0
    return r.num_tokens - 1
