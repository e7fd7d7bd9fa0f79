// Queries the sql endpoint with the unmodified @clickhouse/client; prints one JSON report.
// Usage: node sql_query.mjs URL USER PASSWORD PROJECT
import { createClient } from '@clickhouse/client';

const [url, username, password, project] = process.argv.slice(2);
const client = createClient({ url, username, password, compression: { response: true } });
const report = {};
try {
  report.ping = (await client.ping()).success;
  const version = await client.query({ query: 'SELECT version() AS v, timezone() AS tz', format: 'JSONEachRow' });
  report.version = await version.json();
  const names = await client.query({ query: 'SHOW TABLES', format: 'JSONEachRow' });
  report.tables = (await names.json()).map((r) => r.name);
  const counted = await client.query({
    query: 'SELECT count() AS n FROM spans FINAL WHERE service_name = {svc:String}',
    format: 'JSONEachRow',
    query_params: { svc: project },
  });
  report.count = Number((await counted.json())[0].n);
  try {
    await client.command({ query: 'DROP TABLE spans' });
    report.drop = 'allowed';
  } catch (err) {
    report.drop = { code: err.code, type: err.type };
  }
} finally {
  await client.close();
}
console.log(JSON.stringify(report));
