/**
 * Public shapes of the classifier. Offsets are UTF-16 indices into the ORIGINAL
 * text of a segment (before normalisation), half-open [start, end).
 */

/** One piece of request text, addressed by a field path such as `messages[2].content[0].text`. */
export interface Segment {
  path: string;
  text: string;
}

export interface Finding {
  /** Presidio entity name (EMAIL_ADDRESS, CREDIT_CARD, ...) or SECRET / a custom entity. */
  entity: string;
  path: string;
  start: number;
  end: number;
  /** 0..1 confidence after validation and context. */
  score: number;
  /** Stable detector id, e.g. `secret.github-token`; says which rule fired without quoting the value. */
  detector: string;
}

export interface Classification {
  /** One of the configured level names. */
  level: string;
  findings: Finding[];
  /** Human-readable reasons. Only entity types, counts, paths and rule names: never matched values. */
  reasons: string[];
}

/** A detector's raw output, with offsets into the NORMALISED text it was given. */
export interface Candidate {
  entity: string;
  start: number;
  end: number;
  score: number;
  detector: string;
}
