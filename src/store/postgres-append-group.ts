/**
 * The PostgreSQL store's group commit as SQL (schema migration 2 of `store-postgres.ts`): the
 * locked section of a commit in one function, so that the `log_head` lock is held for one
 * statement instead of across round trips to the node.
 */

/** A NOTIFY payload must be shorter than 8,000 bytes. */
const NOTIFY_MAX_BYTES = 8000;
/** Events carried in a notification at most (more would not fit anyway). */
const NOTIFY_MAX_EVENTS = 64;
/** Bytes of a notified event besides its data: the id, the JSON punctuation, a short type and source. */
const NOTIFY_EVENT_OVERHEAD = 160;
/** Crockford base32, the ULID alphabet. */
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Migration step 2: the group commit's locked section as SQL functions in schema `s` (quoted).
 *
 * `append_group` locks `log_head`, decides each keyed call against the idempotency records (a
 * fresh record with the same fingerprint replays its ids, another fingerprint is a conflict; a
 * key repeated within the group is decided against the first), assigns the new events' ids,
 * inserts them and the new idempotency records, moves `log_head` and sends `pg_notify` — one
 * statement, so autocommit makes it one transaction and the lock is released at its commit.
 *
 * Ids continue the stored head the way `EventIdGenerator` does: the time part is
 * `max(p_now, time of last_id)`; in the head's millisecond the 80-bit random part continues from
 * the head's plus one, otherwise it starts at the caller's random seed (`p_hi`, 40 bits, and
 * `p_lo`, 39 bits, so that a group never carries out of it). The random part is handled as two
 * 40-bit halves (8 base32 characters each).
 *
 * Returns `outcomes` (per call: `s` stored, `r` replayed, `c` conflict), `lens` (ids per call),
 * `ids` (every call's ids, concatenated in call order: new ids, or the replayed call's) and `prev`
 * (the head before this commit, `''` for none: the new events are the log's events right after it).
 *
 * The notification (`pg_notify`, delivered at commit, in commit order) is `<prev> <new head>
 * <node>` (`p_node`: the committing node's id), followed by a newline and the new events as a JSON
 * array of `[id, type, source, subject, data]` when they fit in one (under 8,000 bytes): the other
 * nodes' tails then need no read; otherwise they read exactly the events after `<prev>` up to
 * `<new head>`.
 */
export function appendGroupSql(s: string): string {
  const digit = (shift: number) => `substr('${B32}', ((v >> ${shift}) & 31)::int + 1, 1)`;
  const newId = (j: string) => `v_prefix || ${s}.ss_b32_8(v_hi + ((v_lo + ${j}) >> 40)) || ${s}.ss_b32_8((v_lo + ${j}) & 1099511627775)`;
  return `
CREATE FUNCTION ${s}.ss_b32_8(v bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ${[35, 30, 25, 20, 15, 10, 5, 0].map(digit).join(' || ')}
$$;

CREATE FUNCTION ${s}.ss_b32_decode(t text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v bigint := 0;
BEGIN
  FOR i IN 1..length(t) LOOP
    v := v * 32 + (strpos('${B32}', substr(t, i, 1)) - 1);
  END LOOP;
  RETURN v;
END $$;

CREATE FUNCTION ${s}.append_group(
  p_now bigint, p_hi bigint, p_lo bigint,
  p_counts int[], p_keys text[], p_fps text[], p_fresh_after bigint,
  p_types text[], p_sources text[], p_subjects text[], p_data text[],
  p_channel text, p_node text,
  OUT outcomes text, OUT lens int[], OUT ids text[], OUT prev text
) LANGUAGE plpgsql AS $$
DECLARE
  v_head text;
  v_payload text;
  v_time bigint := p_now;
  v_hi bigint := p_hi;
  v_lo bigint := p_lo;
  v_head_time bigint;
  v_head_hi bigint;
  v_head_lo bigint;
  v_prefix text;
  v_total int := coalesce(array_length(p_types, 1), 0);
  v_calls int := coalesce(array_length(p_counts, 1), 0);
  v_last text;
  -- keyed groups
  v_pos int := 0;
  v_j int := 0;
  v_n int;
  v_key text;
  v_g int;
  v_prior_fp text;
  v_prior_ids text[];
  v_call_ids text[];
  v_keep int[] := '{}';
  v_new_ids text[] := '{}';
  g_keys text[] := '{}';
  g_fps text[] := '{}';
  g_ids text[] := '{}';
  k_keys text[] := '{}';
  k_fps text[] := '{}';
  k_ids text[] := '{}';
BEGIN
  -- The lock that orders commits across nodes, held until this statement's transaction commits.
  SELECT last_id INTO v_head FROM ${s}.log_head FOR UPDATE;
  prev := coalesce(v_head, '');
  IF v_head IS NOT NULL THEN
    v_head_time := ${s}.ss_b32_decode(substr(v_head, 5, 10));
    IF v_head_time >= p_now THEN
      v_head_hi := ${s}.ss_b32_decode(substr(v_head, 15, 8));
      v_head_lo := ${s}.ss_b32_decode(substr(v_head, 23, 8)) + 1;
      v_head_hi := v_head_hi + (v_head_lo >> 40);
      v_head_lo := v_head_lo & 1099511627775;
      IF v_head_hi + ((v_head_lo + v_total) >> 40) <= 1099511627775 THEN
        v_time := v_head_time;
        v_hi := v_head_hi;
        v_lo := v_head_lo;
      ELSE
        -- The head's millisecond has no room left: continue in the next one.
        v_time := v_head_time + 1;
      END IF;
    END IF;
  END IF;
  v_prefix := 'evt_' || substr('${B32}', ((v_time >> 45) & 31)::int + 1, 1)
    || substr('${B32}', ((v_time >> 40) & 31)::int + 1, 1) || ${s}.ss_b32_8(v_time & 1099511627775);

  IF p_keys IS NULL THEN
    ids := ARRAY(SELECT ${newId('j')} FROM generate_series(0, v_total - 1) AS j ORDER BY j);
    IF v_total > 0 THEN
      INSERT INTO ${s}.events (id, type, source, subject, data)
        SELECT * FROM unnest(ids, p_types, p_sources, p_subjects, p_data);
      v_last := ids[v_total];
      IF v_total <= ${NOTIFY_MAX_EVENTS} AND (SELECT sum(octet_length(d)) FROM unnest(p_data) AS d) + v_total * ${NOTIFY_EVENT_OVERHEAD} < ${NOTIFY_MAX_BYTES} THEN
        v_payload := (SELECT json_agg(json_build_array(i, t, src, sub, d) ORDER BY o)::text
          FROM unnest(ids, p_types, p_sources, p_subjects, p_data) WITH ORDINALITY AS u(i, t, src, sub, d, o));
      END IF;
    END IF;
    outcomes := repeat('s', v_calls);
    lens := p_counts;
  ELSE
    outcomes := '';
    lens := '{}';
    ids := '{}';
    FOR c IN 1..v_calls LOOP
      v_n := p_counts[c];
      v_key := p_keys[c];
      v_prior_fp := NULL;
      v_prior_ids := NULL;
      IF v_key IS NOT NULL THEN
        v_g := array_position(g_keys, v_key);
        IF v_g IS NOT NULL THEN
          v_prior_fp := g_fps[v_g];
          v_prior_ids := string_to_array(g_ids[v_g], ',');
        ELSE
          SELECT fingerprint, event_ids INTO v_prior_fp, v_prior_ids FROM ${s}.idempotency
            WHERE key = v_key AND created_at >= p_fresh_after;
          IF FOUND THEN
            g_keys := g_keys || v_key;
            g_fps := g_fps || v_prior_fp;
            g_ids := g_ids || array_to_string(v_prior_ids, ',');
          END IF;
        END IF;
      END IF;
      IF v_prior_fp IS NOT NULL THEN
        IF v_prior_fp = p_fps[c] THEN
          outcomes := outcomes || 'r';
          lens := lens || coalesce(array_length(v_prior_ids, 1), 0);
          ids := ids || v_prior_ids;
        ELSE
          outcomes := outcomes || 'c';
          lens := lens || 0;
        END IF;
      ELSE
        v_call_ids := ARRAY(SELECT ${newId('j')} FROM generate_series(v_j, v_j + v_n - 1) AS j ORDER BY j);
        v_keep := v_keep || ARRAY(SELECT generate_series(v_pos + 1, v_pos + v_n));
        v_new_ids := v_new_ids || v_call_ids;
        v_j := v_j + v_n;
        outcomes := outcomes || 's';
        lens := lens || v_n;
        ids := ids || v_call_ids;
        IF v_key IS NOT NULL THEN
          g_keys := g_keys || v_key;
          g_fps := g_fps || p_fps[c];
          g_ids := g_ids || array_to_string(v_call_ids, ',');
          k_keys := k_keys || v_key;
          k_fps := k_fps || p_fps[c];
          k_ids := k_ids || array_to_string(v_call_ids, ',');
        END IF;
      END IF;
      v_pos := v_pos + v_n;
    END LOOP;
    IF v_j > 0 THEN
      INSERT INTO ${s}.events (id, type, source, subject, data)
        SELECT v_new_ids[i], p_types[v_keep[i]], p_sources[v_keep[i]], p_subjects[v_keep[i]], p_data[v_keep[i]]
        FROM generate_subscripts(v_keep, 1) AS i;
      v_last := v_new_ids[v_j];
      IF v_j <= ${NOTIFY_MAX_EVENTS}
        AND (SELECT sum(octet_length(p_data[i])) FROM generate_subscripts(v_keep, 1) AS i) + v_j * ${NOTIFY_EVENT_OVERHEAD} < ${NOTIFY_MAX_BYTES} THEN
        v_payload := (SELECT json_agg(json_build_array(v_new_ids[i], p_types[v_keep[i]], p_sources[v_keep[i]], p_subjects[v_keep[i]], p_data[v_keep[i]]) ORDER BY i)::text
          FROM generate_subscripts(v_keep, 1) AS i);
      END IF;
    END IF;
    IF array_length(k_keys, 1) > 0 THEN
      INSERT INTO ${s}.idempotency (key, fingerprint, event_ids, created_at)
        SELECT k, f, string_to_array(e, ','), p_now FROM unnest(k_keys, k_fps, k_ids) AS t(k, f, e)
        ON CONFLICT (key) DO UPDATE
          SET fingerprint = excluded.fingerprint, event_ids = excluded.event_ids, created_at = excluded.created_at;
    END IF;
  END IF;

  IF v_last IS NOT NULL THEN
    UPDATE ${s}.log_head SET last_id = v_last;
    -- "<previous head> <new head> <node>", then the new events when they fit in a notification.
    IF v_payload IS NOT NULL AND octet_length(v_payload) + octet_length(p_node) + 64 < ${NOTIFY_MAX_BYTES} THEN
      PERFORM pg_notify(p_channel, prev || ' ' || v_last || ' ' || p_node || E'\n' || v_payload);
    ELSE
      PERFORM pg_notify(p_channel, prev || ' ' || v_last || ' ' || p_node);
    END IF;
  END IF;
END $$;`;
}
