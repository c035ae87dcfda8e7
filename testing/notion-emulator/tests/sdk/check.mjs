// The official Notion SDK, unmodified, against the emulator: only baseUrl and the API
// version are set. Exits non-zero with a message on the first surprise.
import { Client, APIResponseError, APIErrorCode } from "@notionhq/client";

const { BASE_URL, TOKEN, CONTACTS, ROOT_PAGE } = process.env;
const notion = new Client({
  auth: TOKEN,
  baseUrl: BASE_URL,
  notionVersion: "2026-03-11",
  retry: { maxRetries: 2, initialRetryDelayMs: 50, maxRetryDelayMs: 2000 },
});

function check(cond, message) {
  if (!cond) {
    console.error("FAIL:", message);
    process.exit(1);
  }
}

const created = [];
for (const [name, email, status] of [
  ["Ann", "ann@example.com", "new lead"],
  ["Bo", "bo@example.com", "contacted"],
  ["Cy", "cy@example.com", "new lead"],
]) {
  const page = await notion.pages.create({
    parent: { type: "data_source_id", data_source_id: CONTACTS },
    properties: {
      Name: { title: [{ text: { content: name } }] },
      Email: { email },
      Status: { select: { name: status } },
    },
  });
  check(page.object === "page" && page.id, "create returns a page");
  created.push(page);
}

// Query with a filter, a sort and a cursor.
const seen = [];
let cursor = undefined;
do {
  const res = await notion.dataSources.query({
    data_source_id: CONTACTS,
    filter: { property: "Status", select: { equals: "new lead" } },
    sorts: [{ property: "Name", direction: "descending" }],
    page_size: 1,
    start_cursor: cursor,
  });
  seen.push(...res.results.map((p) => p.properties.Name.title[0].plain_text));
  cursor = res.has_more ? res.next_cursor : undefined;
} while (cursor);
check(JSON.stringify(seen) === JSON.stringify(["Cy", "Ann"]), `query saw ${seen}`);

// Retrieve with filter_properties, by property id.
const schema = await notion.dataSources.retrieve({ data_source_id: CONTACTS });
const emailId = schema.properties.Email.id;
const only = await notion.pages.retrieve({ page_id: created[0].id, filter_properties: [emailId] });
check(Object.keys(only.properties).length === 1 && only.properties.Email.email === "ann@example.com",
  `filter_properties: ${JSON.stringify(only.properties)}`);

// Update and read back.
await notion.pages.update({
  page_id: created[1].id,
  properties: { Company: { rich_text: [{ text: { content: "Acme" } }] } },
});
const bo = await notion.pages.retrieve({ page_id: created[1].id.replaceAll("-", "") });
check(bo.properties.Company.rich_text[0].plain_text === "Acme", "update persisted");

// Databases.
const db = await notion.databases.create({
  parent: { type: "page_id", page_id: ROOT_PAGE },
  title: [{ type: "text", text: { content: "Partners" } }],
  initial_data_source: { properties: { Name: { title: {} }, Tier: { select: { options: [{ name: "gold" }] } } } },
});
check(db.data_sources.length === 1, "database has its data source");
const again = await notion.databases.retrieve({ database_id: db.id });
check(again.id === db.id, "database retrieve");

// Errors come back as the SDK's typed errors.
try {
  await notion.pages.retrieve({ page_id: "59833787-2cf9-4fdf-8782-e53db20768a5" });
  check(false, "missing page must fail");
} catch (e) {
  check(e instanceof APIResponseError && e.code === APIErrorCode.ObjectNotFound, `404 error: ${e}`);
}

// A 429 with Retry-After is retried by the SDK's own logic.
await fetch(`${BASE_URL}/__admin/faults`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ method: "GET", path: "/v1/data_sources/*", action: { kind: "status", status: 429, retry_after: 1 }, times: 1 }),
});
const retried = await notion.dataSources.retrieve({ data_source_id: CONTACTS });
check(retried.id === schema.id, "retried after 429");

console.log(JSON.stringify({ ok: true, pages: created.map((p) => p.id) }));
