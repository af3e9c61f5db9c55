/**
 * Streams an XML document with saxes 6 and hands over one subtree at a time: a caller
 * names the depth whose elements it wants whole, and receives each as a small element
 * tree once its end tag is read. Memory stays at the largest such subtree. saxes reads no
 * DTD and expands no external entity, so a hostile document cannot reach files or hosts.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { CairnError } from '../../errors.ts';

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

export interface XmlElement {
  /** Local name, without prefix. */
  name: string;
  /** Attributes by local name, except those of the XML Schema instance namespace: `xsi:type`. */
  attributes: Map<string, string>;
  children: XmlElement[];
  /** Text directly inside the element, trimmed. */
  text: string;
}

/** Returns the first child with a local name, or undefined. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((item) => item.name === name);
}

/** Returns every child with a local name. */
export function children(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((item) => item.name === name) ?? [];
}

/** Follows a path of child names. */
export function descend(
  element: XmlElement | undefined,
  ...names: string[]
): XmlElement | undefined {
  let current = element;
  for (const name of names) current = child(current, name);
  return current;
}

/** Returns the trimmed text of an element found by a path, or '' when absent. */
export function textOf(element: XmlElement | undefined, ...names: string[]): string {
  return descend(element, ...names)?.text ?? '';
}

/** Returns the part of an `xsi:type` value after its prefix: `FileObj:FileObjectType` gives `FileObjectType`. */
export function xsiType(element: XmlElement | undefined): string {
  const type = element?.attributes.get('xsi:type') ?? '';
  return type.slice(type.indexOf(':') + 1);
}

/**
 * Yields each element whose path of local names satisfies `wanted`, with its whole
 * subtree, in document order. Throws CairnError `invalid-envelope` for XML that is not
 * well-formed and `invalid-encoding` for bytes that are not UTF-8.
 */
export async function* xmlSubtrees(
  source: AsyncIterable<Uint8Array | string>,
  wanted: (path: readonly string[]) => boolean,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<XmlElement> {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const path: string[] = [];
  const stack: XmlElement[] = [];
  const done: XmlElement[] = [];
  let capturing = 0;

  parser.on('opentag', (tag: SaxesTagNS) => {
    path.push(tag.local);
    if (capturing === 0 && !wanted(path)) return;
    capturing++;
    const attributes = new Map<string, string>();
    for (const attribute of Object.values(tag.attributes)) {
      const key = attribute.uri === XSI ? `xsi:${attribute.local}` : attribute.local;
      attributes.set(key, attribute.value);
    }
    const element: XmlElement = { name: tag.local, attributes, children: [], text: '' };
    stack.at(-1)?.children.push(element);
    stack.push(element);
  });
  const addText = (text: string): void => {
    const element = stack.at(-1);
    if (element && capturing > 0) element.text += text;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    path.pop();
    if (capturing === 0) return;
    capturing--;
    const element = stack.pop()!;
    element.text = element.text.trim();
    if (capturing === 0) done.push(element);
  });

  const decoder = new TextDecoder('utf-8', { fatal: true });
  let bytes = 0;
  const fail = (error: unknown): never => {
    throw new CairnError(
      'invalid-envelope',
      `the input is not well-formed XML: ${(error as Error).message}`,
      { byte_offset: bytes },
    );
  };
  for await (const chunk of source) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let text: string;
    try {
      text = decoder.decode(data, { stream: true });
    } catch {
      throw new CairnError('invalid-encoding', `the input is not valid UTF-8 near byte ${bytes}`, {
        byte_offset: bytes,
      });
    }
    try {
      parser.write(text);
    } catch (error) {
      fail(error);
    }
    bytes += data.length;
    onBytes?.(bytes);
    yield* done.splice(0);
  }
  try {
    parser.close();
  } catch (error) {
    fail(error);
  }
  yield* done.splice(0);
}
