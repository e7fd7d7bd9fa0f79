// Exports a small gen_ai trace with the real Node OTLP/HTTP JSON exporter.
// Usage: node export_spans.mjs <traces url> <spanlens key>; prints the trace id.
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { context, trace, SpanStatusCode } from "@opentelemetry/api";

const [url, key] = process.argv.slice(2);
const exporter = new OTLPTraceExporter({ url, headers: { Authorization: `Bearer ${key}` } });
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "node-agent" }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer("node-tracer", "0.1.0");

const root = tracer.startSpan("chat gpt-4o");
root.setAttributes({
  "gen_ai.operation.name": "chat",
  "gen_ai.provider.name": "openai",
  "gen_ai.request.model": "gpt-4o",
  "gen_ai.usage.input_tokens": 120,
  "gen_ai.usage.output_tokens": 80,
  "gen_ai.request.temperature": 0.5,
  "gen_ai.response.finish_reasons": ["stop"],
  "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Hello"}]}]',
});
root.addEvent("gen_ai.choice", { index: 0 });
const child = tracer.startSpan("execute_tool search", {}, trace.setSpan(context.active(), root));
child.setAttribute("gen_ai.operation.name", "execute_tool");
child.setStatus({ code: SpanStatusCode.ERROR, message: "tool failed" });
child.end();
root.end();
await provider.forceFlush();
await provider.shutdown();
console.log(root.spanContext().traceId);
