import { describe } from 'node:test';
import { acceptCases, rejectCases } from './testing/cases.ts';
import { idOf, minimal, withProperties } from './testing/fixtures.ts';

describe('language-content', () => {
  rejectCases([
    {
      name: 'contents key not a language',
      object: withProperties('language-content', { contents: { 'english!': { name: 'x' } } }),
      rule: 'dictionary-key',
    },
    {
      name: 'contents empty',
      object: withProperties('language-content', { contents: {} }),
      rule: 'empty',
      property: 'contents',
    },
    {
      name: 'translation empty',
      object: withProperties('language-content', { contents: { de: {} } }),
      rule: 'type',
      property: 'contents.de',
    },
    {
      name: 'translation string',
      object: withProperties('language-content', { contents: { de: 'Bank Angriff' } }),
      rule: 'type',
    },
    {
      name: 'object_ref to bundle',
      object: withProperties('language-content', { object_ref: idOf('bundle') }),
      rule: 'ref-type',
      property: 'object_ref',
    },
    {
      name: 'object_ref to language-content',
      object: withProperties('language-content', { object_ref: idOf('language-content') }),
      rule: 'ref-type',
    },
    {
      name: 'object_modified not timestamp',
      object: withProperties('language-content', { object_modified: 'now' }),
      rule: 'timestamp',
    },
    {
      name: 'lang not applicable',
      object: withProperties('language-content', { lang: 'en' }),
      rule: 'not-applicable',
      property: 'lang',
    },
  ]);
  acceptCases([
    {
      name: 'several languages',
      object: withProperties('language-content', {
        object_modified: '2017-02-08T21:31:22.007Z',
        contents: {
          de: { name: 'Bank Angriff 1', description: 'Weitere Informationen' },
          'fr-CA': { name: 'Attaque' },
        },
      }),
    },
  ]);
});

describe('marking-definition', () => {
  rejectCases([
    {
      name: 'modified',
      object: withProperties('marking-definition', { modified: '2024-01-02T03:04:05.678Z' }),
      rule: 'not-applicable',
      property: 'modified',
    },
    {
      name: 'revoked',
      object: withProperties('marking-definition', { revoked: false }),
      rule: 'not-applicable',
    },
    {
      name: 'no definition nor extensions',
      object: withProperties('marking-definition', {
        definition: undefined,
        definition_type: undefined,
      }),
      rule: 'required',
      property: 'definition_type',
    },
    {
      name: 'statement without text',
      object: withProperties('marking-definition', { definition: { text: 'x' } }),
      rule: 'required',
      property: 'definition.statement',
    },
    {
      name: 'statement number',
      object: withProperties('marking-definition', { definition: { statement: 5 } }),
      rule: 'type',
    },
    {
      name: 'definition string',
      object: withProperties('marking-definition', { definition: 'Copyright' }),
      rule: 'type',
      property: 'definition',
    },
    {
      name: 'tlp with unknown id',
      object: withProperties('marking-definition', {
        definition_type: 'tlp',
        definition: { tlp: 'green' },
      }),
      rule: 'tlp',
    },
    {
      name: 'TLP 2.0 extension on unknown id',
      object: withProperties('marking-definition', {
        definition_type: undefined,
        definition: undefined,
        name: 'TLP:GREEN',
        extensions: {
          'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d': {
            extension_type: 'property-extension',
            tlp_2_0: 'green',
          },
        },
      }),
      rule: 'tlp',
    },
    {
      name: 'marks itself',
      object: withProperties('marking-definition', {
        object_marking_refs: [idOf('marking-definition')],
      }),
      rule: 'circular-marking',
      property: 'object_marking_refs',
    },
    {
      name: 'granular self mark',
      object: withProperties('marking-definition', {
        granular_markings: [{ marking_ref: idOf('marking-definition'), selectors: ['definition'] }],
      }),
      rule: 'circular-marking',
    },
    {
      name: 'created not timestamp',
      object: withProperties('marking-definition', { created: '2017-01-20' }),
      rule: 'timestamp',
    },
  ]);
  acceptCases([
    {
      name: 'whole-second created',
      object: withProperties('marking-definition', { created: '2017-06-01T00:00:00Z' }),
    },
    {
      name: 'other definition type',
      object: withProperties('marking-definition', {
        definition_type: 'x-acme-policy',
        definition: { level: 3 },
      }),
    },
    {
      name: 'extension-based',
      object: withProperties('marking-definition', {
        definition_type: undefined,
        definition: undefined,
        name: 'ACME policy',
        extensions: {
          'extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce': {
            extension_type: 'property-extension',
            policy: 'share',
          },
        },
      }),
    },
    {
      name: 'marked by another marking',
      object: withProperties('marking-definition', {
        object_marking_refs: ['marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da'],
      }),
    },
  ]);
});

describe('extension-definition', () => {
  rejectCases([
    {
      name: 'unknown extension type',
      object: withProperties('extension-definition', { extension_types: ['new-thing'] }),
      rule: 'enum',
      property: 'extension_types[0]',
    },
    {
      name: 'empty extension types',
      object: withProperties('extension-definition', { extension_types: [] }),
      rule: 'empty',
    },
    {
      name: 'extension_properties without top-level',
      object: withProperties('extension-definition', { extension_properties: ['rank'] }),
      rule: 'dependency',
      property: 'extension_properties',
    },
    {
      name: 'confidence',
      object: withProperties('extension-definition', { confidence: 50 }),
      rule: 'not-applicable',
    },
    {
      name: 'created_by_ref to tool',
      object: withProperties('extension-definition', { created_by_ref: idOf('tool') }),
      rule: 'ref-type',
    },
  ]);
  acceptCases([
    {
      name: 'top-level properties',
      object: withProperties('extension-definition', {
        extension_types: ['toplevel-property-extension'],
        extension_properties: ['rank', 'toxicity'],
      }),
    },
    {
      name: 'hybrid',
      object: withProperties('extension-definition', {
        extension_types: ['new-sdo', 'new-sco', 'property-extension'],
      }),
    },
    { name: 'with labels', object: { ...minimal('extension-definition'), labels: ['acme'] } },
  ]);
});
