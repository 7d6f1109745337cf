import { describe, expect, it } from 'vitest';
import { SseDecoder, splitThink, tokensPerSecond } from './chat';

describe('SseDecoder', () => {
  it('joins payloads split across chunks', () => {
    const d = new SseDecoder();
    expect(d.push('data: {"a"')).toEqual([]);
    expect(d.push(':1}\n\ndata: [DONE]\n\n')).toEqual(['{"a":1}', '[DONE]']);
  });
  it('handles CRLF and ignores comments', () => {
    const d = new SseDecoder();
    expect(d.push(': ping\r\n\r\ndata: x\r\n\r\n')).toEqual(['x']);
  });
});

describe('splitThink', () => {
  const cases: [string, boolean, { reasoning: string; answer: string; thinking: boolean }][] = [
    ['Hello', false, { reasoning: '', answer: 'Hello', thinking: false }],
    ['<think>a b</think>Answer', false, { reasoning: 'a b', answer: 'Answer', thinking: false }],
    ['<think>still going', false, { reasoning: 'still going', answer: '', thinking: true }],
    ['reason only\n</think>\n\nThe answer', false, { reasoning: 'reason only', answer: 'The answer', thinking: false }],
    ['partial', true, { reasoning: 'partial', answer: '', thinking: true }],
  ];
  for (const [text, expectThink, want] of cases) {
    it(JSON.stringify(text), () => expect(splitThink(text, expectThink)).toEqual(want));
  }
});

describe('tokensPerSecond', () => {
  it('uses the time after the first token', () => {
    expect(
      tokensPerSecond({ usage: { prompt_tokens: 1, completion_tokens: 10, total_tokens: 11 }, first_token_ms: 500, total_ms: 1500 }),
    ).toBe(10);
  });
  it('is null without usage', () => {
    expect(tokensPerSecond({ usage: null, first_token_ms: 1, total_ms: 2 })).toBeNull();
  });
});
