/**
 * `@agentsight/tokens`: token counts with the model's own tokenizer (tiktoken for OpenAI models, Qwen3's tokenizer for
 * Qwen models, `o200k_base` as a marked estimate otherwise), used when a provider reports no usage. See
 * {@link countTokens} and {@link countPromptTokens}.
 */
export * from './tokens';
