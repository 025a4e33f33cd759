/**
 * Weighted heuristic patterns for known prompt-injection families, English and German
 * (plus the override verbs in French and Spanish, which cost nothing). They run on the
 * output of normalizeForInjection: lower case, NFKC, no invisible characters, one space
 * between words, newlines kept.
 *
 * Weights are evidence in nats: the rule score is 1 - exp(-Σ weights of distinct rules
 * that fired). `indirect` is the weight when the text arrived as tool output or retrieved
 * content: an instruction addressed to "your answer" or "insert the following code into
 * your solution" is normal from a user and a red flag inside a web page or tool result.
 */

import type { NormalizedText } from './normalize.js';

export interface InjectionRule {
  /** Stable id reported in signals; never derived from the input. */
  readonly id: string;
  readonly re: RegExp;
  /** Evidence when the text came from the user (or the system prompt). */
  readonly weight: number;
  /** Evidence for tool / retrieved content; defaults to `weight`. */
  readonly indirect?: number;
  /**
   * Literal substrings of which every match of `re` contains at least one. One combined
   * scan for all anchors decides which rules' regexes run at all, which is what keeps a
   * 2 KB benign prompt in the tens of microseconds (see bench/INJECTION-RESULTS.md).
   */
  readonly anchors: readonly string[];
}

/** Up to ~50 characters within the same sentence: keeps verb and object close. */
const GAP = "[^.!?\\n]{0,50}?";
const SHORT = "[^.!?\\n]{0,25}?";

const r = (src: string): RegExp => new RegExp(src);

const EN_OVERRIDE_VERB = "(?:ignore|disregard|forget|overrid(?:e|ing)|bypass|neglect|abandon|discard|set aside|pay no attention to|do not follow|don't follow|stop following|skip)";
/** Qualifiers that point back at earlier instructions; with these, almost any object noun will do. */
const EN_PRIOR = "(?:previous|prior|preceding|above|earlier|former|foregoing|initial|original|old|system|existing|developer|safety)";
const EN_PRIOR_NOUN = "(?:instructions?|rules|directions|directives|guidelines|guidance|prompts?|commands|orders|context|tasks?|assignments?|messages|constraints|programming|information|conversation|text|restrictions|policies|safeguards|content)";
/** Weak qualifiers ("all", "your"): only with nouns that mean instructions, so "ignore the typos in your text" stays clean. */
const EN_ANY = "(?:all|any|your|these|those|every)";
const EN_INSTR_NOUN = "(?:instructions?|rules|directions|directives|guidelines|prompts?|commands|orders|programming|restrictions|constraints|policies|safeguards|previous)";
/** Up to three words between verb and object ("ignore all of the previous …"). */
const WORDS3 = "(?:\\s+[^\\s.!?]+){0,3}?\\s+";

export const INJECTION_RULES: readonly InjectionRule[] = [
  // --- Override of earlier instructions -------------------------------------------------
  {
    id: 'override.ignore-previous',
    anchors: ['ignor', 'disregard', 'forget', 'overrid', 'bypass', 'neglect', 'abandon', 'discard', 'set aside', 'pay no attention', 'follow', 'skip'],
    re: r(`\\b${EN_OVERRIDE_VERB}${WORDS3}(?:${EN_PRIOR}${WORDS3}${EN_PRIOR_NOUN}|${EN_ANY}(?: (?:of )?(?:the|my|your))?(?: \\w+)? ${EN_INSTR_NOUN})\\b`),
    weight: 2.6,
  },
  {
    // "forget everything", "ignore all of that", "ignore the above" — weaker, since
    // "forget everything you know about bread" is a cooking class opener.
    id: 'override.forget-everything',
    anchors: ['forget', 'ignor', 'disregard'],
    re: r(`\\b(?:forget|ignore|disregard)\\b(?: about)? (?:everything|all (?:of )?(?:that|this|the above)|the above|what (?:i|you) (?:said|told|were told|wrote)|anything (?:above|before|previous))`),
    weight: 1.6,
  },
  {
    id: 'override.ignore-previous.de',
    anchors: ['ignorier', 'vergiss', 'vergessen', 'missacht', 'überspring'],
    re: r(`\\b(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|missachte(?:n sie)?|überspring(?:e|en sie)?)\\b${SHORT}\\b(?:vorherigen?|vorigen?|bisherigen?|obigen?|vorangegangenen?|früheren?|alle|alles|deine|ihre)\\b${SHORT}\\b(?:anweisungen|instruktionen|befehle|regeln|vorgaben|informationen|aufgaben|anordnungen|prompts?|ausführungen)`),
    weight: 2.6,
  },
  {
    id: 'override.forget-everything.de',
    anchors: ['vergiss', 'vergessen', 'ignorier', 'ausführungen', 'alle vor', 'alle bis', 'hinter'],
    re: r(`\\b(?:vergiss|vergessen sie|ignorier(?:e|en sie)?)\\b(?: (?:einfach|bitte|jetzt|nun|mal))* (?:alles|das alles|alle)\\b|\\b(?:obigen|vorherigen|bisherigen) ausführungen ignorieren|\\balle (?:vorherigen|bisherigen|vorigen) (?:informationen|anweisungen)|hinter (?:sich|dir) (?:lassen|lässt)|(?:lass|lassen sie)${SHORT} hinter (?:sich|dir)`),
    weight: 1.8,
  },
  {
    id: 'override.ignore-previous.fr-es',
    anchors: ['oubli', 'ignor', 'olvid'],
    re: r(`\\b(?:oubliez|oublie|ignorez|ignore|olvida|olvide|ignora|ignore)\\b${SHORT}\\b(?:instructions|consignes|instrucciones|indicaciones|règles|reglas)\\b`),
    weight: 2.4,
  },
  {
    id: 'override.new-task',
    anchors: ['new instruction', 'new task', 'new assignment', 'new rule', 'new directive', 'new objective', 'new system prompt', 'now on', 'start over', 'start from scratch', 'start anew', 'task', 'job', 'goal', 'purpose', 'instruction', 'enough', 'now focus', 'now concentrate'],
    re: r(`\\bnew (?:instructions?|tasks?|assignment|rules|directive|objective|system prompt)\\b|\\bfrom now on\\b|\\bstart (?:over|from scratch|anew)\\b|\\b(?:your|the) (?:real|actual|true|only|new) (?:task|job|goal|purpose|instruction)s?\\b|\\b(?:that is|that's|this is) enough\\b|\\bnow (?:focus|concentrate) on\\b`),
    weight: 1.0,
  },
  {
    id: 'override.new-task.de',
    anchors: ['neue', 'ab jetzt', 'ab sofort', 'von nun', 'von vorne', 'neu an', 'folgen', 'das reicht'],
    re: r(`\\bneue(?:n|r)? (?:aufgabe|aufgaben|anweisung|anweisungen|regeln)\\b|\\bab (?:jetzt|sofort)\\b|\\bvon nun an\\b|\\bvon vorne\\b|\\bneu an(?:fangen)?\\b|\\b(?:nun|jetzt) folgen\\b|\\bdas reicht\\b`),
    weight: 1.0,
  },
  {
    // Shouted stop/attention markers used to break out of the surrounding task.
    id: 'override.interrupt',
    anchors: ['stop', 'halt', 'achtung', 'attention', 'important', 'wichtig'],
    re: r(`(?:^|[\\s"'.:])(?:stop|stopp|halt|achtung|attention|important|wichtig)\\s*[-:!]+\\s*(?:(?:stop|stopp)\\s*[-:!]*\\s*)?(?:write|say|print|output|tell|schreib\\w*|sag\\w*|ich)\\b`),
    weight: 1.4,
  },
  // --- Role play and jailbreak personas -------------------------------------------------
  {
    id: 'role.you-are-now',
    anchors: ['you are', "you're", 'you will', 'you shall'],
    re: r(`\\byou are (?:now|no longer|not (?:a|an) (?:ai|assistant|language model|chatbot))\\b|\\b(?:from now on|henceforth),? you(?:'re| are| will| shall)\\b|\\bnow,? you are\\b|\\byou will (?:now )?(?:act|respond|answer|behave|pretend) as\\b`),
    weight: 1.4,
  },
  {
    id: 'role.act-as',
    anchors: ['act as', 'behave as', 'respond as', 'answer as', 'pretend', 'imagine', 'suppose', 'role', 'character', 'i want you to'],
    re: r(`\\b(?:act|behave|respond|answer) as (?:if|though|a|an|my|the)\\b|\\bpretend (?:to be|you(?:'re| are)|that)\\b|\\b(?:imagine|suppose) (?:that )?you(?:'re| are)\\b|\\brole-?play\\b|\\b(?:stay|remain) in (?:character|role)|\\bbreak(?:ing)? (?:out of )?character\\b|\\bi want you to (?:act|be|pretend|become)\\b`),
    weight: 1.0,
  },
  {
    id: 'role.act-as.de',
    anchors: ['du bist', 'so als', 'so, als', 'stell', 'verhalte', 'rolle', 'dass du als', 'dass sie als'],
    re: r(`\\bdu bist (?:jetzt|nun|ab sofort|ab jetzt|kein(?:e)?)\\b|\\b(?:tu|tue|tun sie) so,? als\\b|\\bstell(?:en sie)? (?:dir|sich) vor,? (?:du bist|sie sind|dass)\\b|\\bverhalte dich (?:wie|als)\\b|\\b(?:spiel|spiele|spielen sie) (?:die|eine) rolle\\b|\\bdass (?:du|sie) als\\b${GAP}\\b(?:fungier|agier|handel|auftr)`),
    weight: 1.0,
  },
  {
    id: 'jailbreak.persona',
    anchors: ['anything now', 'mode', 'jailbr', 'dan', 'stan', 'aim', 'dude', 'gpt', 'evilbot'],
    re: r(`\\bdo anything now\\b|\\b(?:developer|dev|god|jailbreak|unrestricted|opposite|evil) mode\\b|\\bjailbr(?:eak|oken)\\b|\\b(?:dan|stan|aim|dude|anti-?gpt|betterdan|evilbot)\\b(?=[^.!?\\n]{0,60}\\b(?:mode|prompt|persona|character|respond|answer|stands for|you are|as)\\b)`),
    weight: 2.4,
  },
  {
    id: 'jailbreak.no-limits',
    anchors: ['restriction', 'limit', 'filter', 'censor', 'guideline', 'rules', 'boundar', 'polic', 'amoral', 'bypass', 'disable', 'turn off', 'circumvent', 'evade', 'guardrail', 'moderation', 'ohne'],
    re: r(`\\b(?:without|no|free (?:of|from)|ignore (?:your|all|any)) (?:any )?(?:ethical |moral |content |safety )?(?:restrictions|limitations|limits|filters?|censorship|guidelines|rules|boundaries|policies)\\b|\\b(?:unfiltered|uncensored|amoral)\\b|\\b(?:bypass|disable|turn off|circumvent|evade)\\b${SHORT}\\b(?:safety|filters?|content polic(?:y|ies)|guardrails|moderation|restrictions)\\b|\\bohne (?:jegliche |alle )?(?:einschränkungen|grenzen|filter|zensur|regeln)\\b`),
    weight: 1.4,
  },
  {
    id: 'jailbreak.hypothetical',
    anchors: ['hypothetic', 'theoretic', 'fiction', 'imaginary'],
    re: r(`\\b(?:hypothetical|theoretical|fictional|imaginary) (?:world|scenario|story|universe)\\b${GAP}\\b(?:no|without|would be able|allowed|rules)\\b`),
    weight: 0.8,
  },
  // --- Prompt leaking ------------------------------------------------------------------
  {
    id: 'leak.system-prompt',
    anchors: ['prompt', 'instruction', 'rules', 'message'],
    re: r(`\\b(?:show|reveal|print|repeat|output|display|tell|give|leak|dump|recite|spell out|write out|list|share|what (?:is|are|was|were))\\b${SHORT}\\b(?:your|the|my|initial|original|hidden|secret|full|all)? ?(?:system ?prompt|initial prompt|hidden prompt|original prompt|pre-?prompt|prompt[ _-]?texts?|prompts|(?:initial|original|hidden|system|secret) (?:instructions|rules|message)|instructions (?:you were|i gave|above)|rules you (?:were|are) given)\\b`),
    weight: 2.2,
  },
  {
    id: 'leak.text-above',
    anchors: ['above', 'before', 'preceding', 'so far', 'prior', 'written'],
    re: r(`\\b(?:repeat|print|output|copy|recite|return|echo)\\b${SHORT}\\b(?:text|words|everything|all|content|message|lines?)\\b${SHORT}\\b(?:above|before this|preceding|so far|prior)\\b|\\beverything (?:above|before) this (?:line|message|point)\\b|\\bwhat (?:was|is) written (?:above|before)\\b`),
    weight: 2.0,
  },
  {
    id: 'leak.system-prompt.de',
    anchors: ['prompt', 'anweisung', 'instruktion', 'vorgabe', 'was steht'],
    re: r(`\\b(?:zeig(?:e|en sie)?|gib|geben sie|nenne|nennen sie|wiederhole|wiederholen sie|verrate|verraten sie|schreib(?:e|en sie)?|druck(?:e|en sie)?)\\b${SHORT}\\b(?:system-?prompt|prompt-?texte?|(?:deine|ihre|die) (?:anweisungen|instruktionen|vorgaben)|ursprünglichen? anweisungen)\\b|\\bwas steht (?:oben|über diesem|im prompt)\\b`),
    weight: 2.2,
  },
  // --- Exfiltration ----------------------------------------------------------------------
  {
    id: 'exfil.send-data',
    anchors: ['http', 'www.', 'url', 'webhook', 'endpoint', 'server', '@'],
    re: r(`\\b(?:send|post|forward|upload|transmit|exfiltrate|email|e-mail|mail|submit|copy|leak)\\b${GAP}\\b(?:conversation|chat(?: history| log)?|history|messages|passwords?|credentials|api[ _-]?keys?|tokens?|cookies|secrets?|personal (?:data|information|details)|user(?:'s)? (?:data|information|details|email)|session|private key)\\b${GAP}\\b(?:to|at|via)\\b${SHORT}(?:https?:\\/\\/|www\\.|\\burl\\b|\\bwebhook\\b|\\bendpoint\\b|\\bserver\\b|[a-z0-9._-]+@[a-z0-9-]+\\.)`),
    weight: 2.0,
    indirect: 3.0,
  },
  {
    // ![x](https://host/p?q=...) — the classic rendered-image exfiltration channel.
    id: 'exfil.markdown-image',
    anchors: ['!['],
    re: r(`!\\[[^\\]\\n]{0,100}\\]\\(\\s*https?:\\/\\/[^\\s)]{1,300}[?&][^\\s)=]{1,40}=`),
    weight: 1.2,
    indirect: 2.2,
  },
  {
    id: 'exfil.render-link',
    anchors: ['image', 'markdown', 'link', 'url', 'pixel'],
    re: r(`\\b(?:render|display|include|embed|append|insert|output)\\b${GAP}\\b(?:image|markdown|link|url|pixel)\\b${GAP}\\b(?:append|containing|with|add|include)\\b${GAP}\\b(?:conversation|chat|summary|data|messages|history|user|query|password)\\b`),
    weight: 1.2,
    indirect: 2.2,
  },
  // --- Text addressed to the assistant from inside content ----------------------------------
  {
    id: 'indirect.addressed-to-assistant',
    anchors: ['reply', 'response', 'answer', 'output', 'summary', 'message', 'replies'],
    re: r(`\\b(?:add|append|prepend|include|insert|modify|change|alter|rewrite|replace|end|begin|start|conclude|translate|format|group|rearrange|encode|reverse|augment|enrich|sign|finish|close|attach|enhance|tailor|frame|use|respond|reply)\\b${GAP}\\b(?:your|the) (?:reply|response|answer|output|summary|responses|replies|answers|message)\\b`),
    weight: 0.3,
    indirect: 1.8,
  },
  {
    id: 'indirect.note-to-ai',
    anchors: [' ai', 'ai ', 'ai,', 'ai:', 'assistant', 'bot', 'model', 'llm', 'gpt', 'claude', 'agent'],
    re: r(`\\b(?:note|message|instructions?|attention|hey|dear|hello|hi|important)\\b,? (?:to|for)? ?(?:the |any |all )?(?:ai|assistant|chatbot|language model|llm|gpt|chatgpt|claude|bot|model|agent)s?\\b\\s*[:,!-]|\\b(?:ai|assistant|chatbot|language model|llm|agent),? (?:you must|you should|please|must|ignore|do not|don't)\\b|\\bif you are (?:an? )?(?:ai|language model|llm|assistant|chatbot)\\b`),
    weight: 0.8,
    indirect: 2.2,
  },
  {
    id: 'indirect.hide-from-user',
    anchors: ['user', 'human', 'them', 'anyone', 'secretly', 'covertly', 'silently', 'quietly'],
    re: r(`\\b(?:do not|don't|never|without) (?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|reveal(?:ing)?|let(?:ting)?|show(?:ing)?|notify(?:ing)?)\\b${SHORT}\\b(?:the user|the human|them|anyone)\\b|\\b(?:secretly|covertly|silently|quietly) (?:send|add|include|insert|append|execute|run|visit|call)\\b`),
    weight: 1.6,
    indirect: 2.4,
  },
  {
    id: 'indirect.when-processing',
    anchors: ['when', 'reply', 'response', 'answer', 'summary'],
    re: r(`\\bwhen (?:you|the (?:ai|assistant|model)) (?:summari[sz]e|read|process|analy[sz]e|see|answer|respond)\\b|\\b(?:in|to|into) (?:your|the) (?:next |final )?(?:reply|response|answer|summary)\\b`),
    weight: 0.2,
    indirect: 1.2,
  },
  {
    id: 'indirect.code-insertion',
    anchors: ['following', 'subsequent', 'below', 'given', 'provided', 'supplied', 'appended', 'attached', 'into your', 'in your', 'within your', 'to your'],
    re: r(`\\b(?:add|include|incorporate|integrate|insert|embed|inject|merge|fuse|meld|adopt|use|utili[sz]e|execute|run|implement|blend|append|put|place|weave|introduce|apply|employ|combine|attach|plug)\\b${GAP}\\b(?:following|subsequent|below|given|provided|supplied|appended|attached)\\b${SHORT}\\b(?:code|snippet|block|excerpt|segment|section|script|lines|fragment|piece|chunk|command)s?\\b|\\b(?:into|in|within|to) your (?:code|solution|implementation|algorithm|program|script|project|codebase|response|answer|software|application|function|module|work)\\b`),
    weight: 0.2,
    indirect: 1.4,
  },
  {
    id: 'code.dangerous-call',
    anchors: ['subprocess', 'os.', 'eval(', 'exec(', '/dev/', 'rm -rf', 'mkfs', 'dd if=', 'getenv(', 'cookie', '.ssh/', '/etc/', 'keylog', 'smtplib', 'xmrig', 'crypto', 'psutil', 'ftplib', 'paramiko', 'nmap', 'pickle.load', 'b64decode', 'shutil.rmtree', 'curl', 'wget'],
    re: r(`\\bsubprocess\\.|\\bos\\.(?:system|popen|environ|remove|unlink|walk)\\b|\\b(?:eval|exec)\\(|\\/dev\\/(?:sd[a-z]|nvme|mem)\\b|\\brm -rf\\b|\\bmkfs\\b|\\bdd if=|\\bgetenv\\(|cookies?\\.(?:txt|pkl|sqlite)|\\.ssh\\/|\\/etc\\/(?:passwd|shadow)\\b|\\bkeylog|\\bsmtplib\\b|\\bxmrig\\b|\\bcrypto-?min|\\bpsutil\\b|\\bftplib\\b|\\bparamiko\\b|\\bnmap\\b|\\bpickle\\.load|\\bb64decode\\b|\\bshutil\\.rmtree\\b|\\bcurl\\b[^\\n]{0,80}\\|\\s*(?:ba)?sh\\b|\\bwget\\b`),
    weight: 0.1,
    indirect: 0.9,
  },
  {
    id: 'code.network-send',
    anchors: ['requests.', 'urllib.request', 'socket.', 'fetch(', 'curl', 'http.client'],
    re: r(`\\brequests\\.(?:post|put|get)\\(|\\burllib\\.request\\b|\\bsocket\\.(?:socket|connect)|\\bfetch\\(\\s*['"\`]https?:|\\bcurl\\b[^\\n]{0,80}\\s(?:-d|--data|-f|--upload-file)\\b|\\bhttp\\.client\\b`),
    weight: 0.1,
    indirect: 0.7,
  },
  // --- Delimiter / chat-template injection ---------------------------------------------------
  {
    id: 'delimiter.chat-template',
    anchors: ['<|', 'inst]', 'sys>>', '<system', '</system', '<assistant', '</assistant', '<instruction', '</instruction', '<sys>', '</sys>', '<admin', '</admin', '<developer', '</developer'],
    re: r(`<\\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\\|>|\\[\\/?inst\\]|<<\\/?sys>>|<\\/?(?:system|assistant|system_prompt|instructions?|sys|admin|developer)>`),
    weight: 2.0,
    indirect: 2.4,
  },
  {
    id: 'delimiter.fake-header',
    anchors: ['instruction', 'system', 'admin', 'developer', 'override', 'response', 'assistant', 'end of'],
    re: r(`(?:^|\\n)\\s*(?:#{2,}|={3,}|-{3,}|\\*{2,}|\\[)\\s*(?:new |updated |system |admin |developer )?(?:instructions?|system(?: prompt| message)?|admin|developer|override|response|assistant)\\s*(?:#{2,}|={3,}|-{3,}|\\*{2,}|\\]|:)|\\bend of (?:the )?(?:document|context|prompt|user input|input|data|instructions)\\b`),
    weight: 1.0,
    indirect: 1.6,
  },
  {
    id: 'delimiter.role-label',
    anchors: ['system', 'assistant', 'admin', 'developer'],
    re: r(`(?:^|\\n)\\s*(?:system|assistant|admin|developer)\\s*:`),
    weight: 0.6,
    indirect: 1.2,
  },
  // --- Encoded payloads --------------------------------------------------------------------
  {
    id: 'encoding.decode-and-follow',
    anchors: ['base64', 'rot13', 'rot-13', 'hex', 'binary', 'caesar', 'morse', 'revers'],
    re: r(`\\b(?:decode|decrypt|decipher|translate|convert)\\b${GAP}\\b(?:base64|rot-?13|hex|binary|caesar|morse|reversed?)\\b${GAP}\\b(?:follow|execute|do|obey|perform|carry out|run|answer|respond)\\b|\\b(?:base64|rot-?13|hex)[- ](?:encoded|decoded)? ?(?:instructions?|message|command|prompt|payload)\\b`),
    weight: 1.6,
  },
  // --- Output forcing (the payload of most override attacks) --------------------------------
  {
    id: 'output.forced-phrase',
    anchors: ['say', 'write', 'print', 'output', 'respond with', 'reply with', 'answer with', 'sag', 'schreib', 'antworte'],
    re: r(`\\b(?:say|write|print|output|respond with|reply with|answer with|sag(?:e|en sie)?|schreib(?:e|en sie)?|antworte(?:n sie)? mit)\\b:?\\s*(?:only |just |nur )?["'][^"'\\n]{1,60}["']`),
    weight: 0.5,
  },
  {
    id: 'output.you-hate',
    anchors: ['hate', 'hasse', 'hasst', 'love', 'liebst'],
    re: r(`\\b(?:tell|say|write|admit|sag(?:e)?)\\b${SHORT}\\b(?:you|du|sie) (?:hate|hasse|hasst|hassen|love|liebst)\\b`),
    weight: 1.0,
  },
];

/** Obfuscation signals come from the normaliser, not from regexes. */
export const OBFUSCATION_WEIGHTS = {
  'obfuscation.invisible-chars': 0.8,
  'obfuscation.spaced-letters': 0.8,
} as const;

/** A long base64-looking blob (found by the normaliser's prescan): weak alone. */
const BLOB_WEIGHT = { weight: 0.3, indirect: 0.5 } as const;

const escapeRe = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** anchor → indexes of the rules it unlocks. */
const ANCHOR_RULES = new Map<string, number[]>();
INJECTION_RULES.forEach((rule, i) => {
  for (const a of rule.anchors) {
    const list = ANCHOR_RULES.get(a) ?? [];
    list.push(i);
    ANCHOR_RULES.set(a, list);
  }
});
/** Longest first so that an anchor which is a prefix of another doesn't hide it at the same position. */
const ANCHOR_RE = new RegExp(
  [...ANCHOR_RULES.keys()].sort((x, y) => y.length - x.length).map(escapeRe).join('|'),
  'g',
);
/** Anchors that contain a shorter anchor: a match of the long one must unlock the short one's rules too. */
const ANCHOR_CLOSURE = new Map<string, number[]>();
for (const a of ANCHOR_RULES.keys()) {
  const set = new Set<number>();
  for (const [b, rules] of ANCHOR_RULES) if (a.includes(b)) for (const r of rules) set.add(r);
  ANCHOR_CLOSURE.set(a, [...set]);
}

export interface RuleResult {
  /** Σ weights of the distinct rules that fired, in nats. */
  evidence: number;
  signals: string[];
}

/** Runs every rule once over normalised text; `indirect` selects the tool/retrieved weights. */
export function evaluateRules(norm: NormalizedText, indirect: boolean): RuleResult {
  const signals: string[] = [];
  let evidence = 0;
  const t = norm.text;
  const candidate = new Uint8Array(INJECTION_RULES.length);
  ANCHOR_RE.lastIndex = 0;
  for (let m = ANCHOR_RE.exec(t); m !== null; m = ANCHOR_RE.exec(t)) {
    for (const i of ANCHOR_CLOSURE.get(m[0]) ?? []) candidate[i] = 1;
    // Step one character, not past the match, so an anchor that starts inside this one is still seen.
    ANCHOR_RE.lastIndex = m.index + 1;
  }
  for (let i = 0; i < INJECTION_RULES.length; i++) {
    if (candidate[i] === 0) continue;
    const rule = INJECTION_RULES[i]!;
    const w = indirect ? (rule.indirect ?? rule.weight) : rule.weight;
    if (w > 0 && rule.re.test(t)) {
      evidence += w;
      signals.push(rule.id);
    }
  }
  if (norm.blob) {
    evidence += indirect ? BLOB_WEIGHT.indirect : BLOB_WEIGHT.weight;
    signals.push('encoding.payload');
  }
  if (norm.invisible) {
    evidence += OBFUSCATION_WEIGHTS['obfuscation.invisible-chars'];
    signals.push('obfuscation.invisible-chars');
  }
  if (norm.spacedLetters) {
    evidence += OBFUSCATION_WEIGHTS['obfuscation.spaced-letters'];
    signals.push('obfuscation.spaced-letters');
  }
  return { evidence, signals };
}
