import { requestMessages } from './request-messages';

describe('messages of a request body', () => {
  test('OpenAI chat: roles as sent, an assistant tool call summarised, a tool result with its call id', () => {
    const body = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'list files' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'ls', arguments: '{"dir":"."}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'a.txt b.txt' },
      ],
    };
    expect(requestMessages(JSON.stringify(body))).toEqual([
      { role: 'system', text: 'be brief' },
      { role: 'user', text: 'list files' },
      { role: 'assistant', text: '[tool call ls {"dir":"."}]' },
      { role: 'tool', text: 'a.txt b.txt', tool_call_id: 'c1' },
    ]);
  });

  test('Anthropic: the system blocks first; tool_use summarised; a user turn carrying tool_result is a tool message', () => {
    const body = {
      system: [{ type: 'text', text: 'you are a coder' }, { type: 'text', text: 'be careful' }],
      messages: [
        { role: 'user', content: 'read x' },
        { role: 'assistant', content: [{ type: 'text', text: 'reading' }, { type: 'tool_use', id: 't1', name: 'read', input: { path: 'x' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'contents' }] }] },
      ],
    };
    expect(requestMessages(JSON.stringify(body))).toEqual([
      { role: 'system', text: 'you are a coder\nbe careful' },
      { role: 'user', text: 'read x' },
      { role: 'assistant', text: 'reading\n[tool call read {"path":"x"}]' },
      { role: 'tool', text: 'contents' },
    ]);
  });

  test('Gemini contents (model = assistant) and OpenAI Responses instructions + a string input', () => {
    const gemini = { contents: [{ role: 'user', parts: [{ text: 'hello' }, { text: 'there' }] }, { role: 'model', parts: [{ text: 'hi' }] }] };
    expect(requestMessages(JSON.stringify(gemini))).toEqual([
      { role: 'user', text: 'hello\nthere' },
      { role: 'assistant', text: 'hi' },
    ]);
    expect(requestMessages(JSON.stringify({ instructions: 'be terse', input: 'what time is it' }))).toEqual([
      { role: 'system', text: 'be terse' },
      { role: 'user', text: 'what time is it' },
    ]);
  });

  test('a body that is not JSON, or has none of these lists, has no messages', () => {
    expect(requestMessages('')).toEqual([]);
    expect(requestMessages('{"messages": [')).toEqual([]);
    expect(requestMessages('null')).toEqual([]);
    expect(requestMessages(JSON.stringify({ prompt: 'legacy completion' }))).toEqual([]);
  });
});
