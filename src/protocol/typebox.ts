// The TypeBox builders the schemas use, imported one by one: its `Type` namespace would bring
// every builder, and the type machinery behind them, into the page's bundle.

import {
  Array as TArray,
  Boolean as TBoolean,
  Integer,
  Literal,
  Number as TNumber,
  Object as TObject,
  Optional,
  String as TString,
  Tuple,
  Union,
} from '@sinclair/typebox';

export const Type = {
  Array: TArray,
  Boolean: TBoolean,
  Integer,
  Literal,
  Number: TNumber,
  Object: TObject,
  Optional,
  String: TString,
  Tuple,
  Union,
};
