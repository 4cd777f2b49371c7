// The PostgreSQL dialect: quoting, literals, type names, DDL rendering, combining statements into DO blocks and
// introspection, gathered into one Dialect object (lib/dialect/dialect.ts). Its statement
// classification is lib/sql/statement-class.ts, which the executors share.
import type { Dialect } from "../dialect.ts";
import { renderBlock, terminate } from "./block.ts";
import { resetSchemas, tableFingerprints, userSchemas } from "./contents.ts";
import { catalogObjects } from "./catalog-objects.ts";
import { describeColumn } from "./describe.ts";
import { introspect } from "./introspect.ts";
import { constraintName } from "./naming.ts";
import { checkExpression, checkType } from "./fragments.ts";
import { checkIdentifier, MAX_IDENTIFIER_BYTES, quoteIdentifier, quoteName, renderLiteral } from "./quote.ts";
import { render } from "./render.ts";
import { classifyStatement } from "../../sql/statement-class.ts";
import { isSerialType, normalizeType } from "./types.ts";
import { expressionText, readStatement } from "./raw-statement.ts";
import { typeChange } from "./type-change.ts";
import { volatileCall } from "./volatility.ts";

export const postgres: Dialect = {
  name: "postgresql",
  quoteIdentifier,
  quoteName,
  renderLiteral,
  checkIdentifier,
  maxIdentifierBytes: MAX_IDENTIFIER_BYTES,
  constraintName,
  normalizeType,
  describeColumn,
  checkType,
  checkExpression,
  render,
  renderBlock,
  terminate,
  classifyStatement,
  introspect,
  userSchemas,
  catalogObjects,
  resetSchemas,
  tableFingerprints,
  readStatement,
  expressionText,
  typeChange,
  volatileCall,
  isSerialType,
};

export { renderBlock, terminate } from "./block.ts";
export { describeColumn } from "./describe.ts";
export { introspect, introspectionQuery, readPage, IntrospectionError } from "./introspect.ts";
export { constraintName, makeObjectName } from "./naming.ts";
export { checkExpression, checkType, InvalidFragmentError } from "./fragments.ts";
export {
  checkIdentifier,
  MAX_IDENTIFIER_BYTES,
  quoteIdentifier,
  quoteName,
  quoteString,
  renderLiteral,
} from "./quote.ts";
export { MAX_PARAMS_PER_INSERT, render, renderConstraint, renderDefault } from "./render.ts";
export { classifyStatement } from "../../sql/statement-class.ts";
export { maskLiterals } from "../../sql/lexer.ts";
export { isSerialType, normalizeType } from "./types.ts";
