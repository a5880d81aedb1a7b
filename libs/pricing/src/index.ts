/**
 * `@agentsight/pricing`: cost of LLM calls at list prices (USD), from the price table shipped in `prices.json`
 * merged with a user file named by `AGENTSIGHT_PRICES`. See {@link priceCall}.
 */
export * from './pricing';
