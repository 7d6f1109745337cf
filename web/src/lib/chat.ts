// Chat helpers: an SSE decoder for OpenAI streams, the split of DeepSeek-R1's
// <think>...</think> reasoning from the answer, and the streaming request.
import { parseError } from './api';

/** Feeds text chunks, returns complete `data:` payloads (events end with a blank line). */
export class SseDecoder {
  private buf = '';
  push(chunk: string): string[] {
    this.buf += chunk.replace(/\r\n/g, '\n');
    const out: string[] = [];
    let idx: number;
    while ((idx = this.buf.indexOf('\n\n')) >= 0) {
      const event = this.buf.slice(0, idx);
      this.buf = this.buf.slice(idx + 2);
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) out.push(data);
    }
    return out;
  }
}

export interface ThinkSplit {
  reasoning: string;
  answer: string;
  /** The reasoning has begun and its closing tag has not come yet. */
  thinking: boolean;
}

/**
 * DeepSeek-R1 writes its reasoning inside <think>...</think> before the answer.
 * Its chat template often ends the prompt with "<think>\n", so the output may
 * hold only the closing tag: then everything before it is reasoning.
 */
export function splitThink(text: string, expectThink = false): ThinkSplit {
  const open = text.indexOf('<think>');
  const close = text.indexOf('</think>');
  if (open >= 0 && (close < 0 || open < close)) {
    const before = text.slice(0, open);
    if (close < 0) return { reasoning: text.slice(open + 7).trim(), answer: before.trim(), thinking: true };
    return {
      reasoning: text.slice(open + 7, close).trim(),
      answer: (before + text.slice(close + 8)).trim(),
      thinking: false,
    };
  }
  if (close >= 0) return { reasoning: text.slice(0, close).trim(), answer: text.slice(close + 8).trim(), thinking: false };
  if (expectThink) return { reasoning: text.trim(), answer: '', thinking: true };
  return { reasoning: '', answer: text, thinking: false };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
export interface ChatParams {
  temperature: number;
  top_p: number;
  max_tokens: number;
}
export interface StreamResult {
  text: string;
  usage: Usage | null;
  finish_reason: string | null;
  /** Milliseconds from the request to the first content, and to the end. */
  first_token_ms: number | null;
  total_ms: number;
}

export async function streamChat(opts: {
  apiKey: string;
  model: string;
  messages: ChatMessage[];
  params: ChatParams;
  signal: AbortSignal;
  onText: (text: string) => void;
}): Promise<StreamResult> {
  const start = performance.now();
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${opts.apiKey}` },
    body: JSON.stringify({
      model: opts.model,
      messages: opts.messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: opts.params.temperature,
      top_p: opts.params.top_p,
      max_tokens: opts.params.max_tokens,
    }),
    signal: opts.signal,
  });
  if (!res.ok || !res.body) {
    throw await parseError(res);
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  const sse = new SseDecoder();
  let text = '';
  let usage: Usage | null = null;
  let finish: string | null = null;
  let first: number | null = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const data of sse.push(dec.decode(value, { stream: true }))) {
      if (data === '[DONE]') continue;
      let chunk: {
        choices?: { delta?: { content?: string; reasoning_content?: string }; finish_reason?: string | null }[];
        usage?: Usage | null;
        error?: { message?: string };
      };
      try {
        chunk = JSON.parse(data);
      } catch {
        continue;
      }
      if (chunk.error) throw new Error(chunk.error.message ?? 'stream error');
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices ?? []) {
        const piece = c.delta?.content ?? '';
        if (piece) {
          if (first === null) first = performance.now() - start;
          text += piece;
          opts.onText(text);
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
  }
  return { text, usage, finish_reason: finish, first_token_ms: first, total_ms: performance.now() - start };
}

/** Completion tokens per second, measured from the first token to the end. */
export function tokensPerSecond(r: Pick<StreamResult, 'usage' | 'first_token_ms' | 'total_ms'>): number | null {
  if (!r.usage || r.usage.completion_tokens <= 0) return null;
  const ms = r.total_ms - (r.first_token_ms ?? 0);
  if (ms <= 0) return null;
  return (r.usage.completion_tokens / ms) * 1000;
}
