/** Text safe inside HTML or XML elements and quoted attributes: the five markup characters as numeric references. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
